import { type Clock, systemClock } from '../clock/clock.js';
import { SlidingCounters } from '../clock/sliding-counters.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  given,
  integer,
  optionError,
  positiveFinite,
} from '../errors/validate.js';

export interface RetryBudgetOptions {
  /** Extra attempts allowed per original request in the window. @default 0.1 */
  ratio?: number;
  /** Extra attempts allowed per second whatever the traffic, so a quiet service can still retry. @default 10 */
  minPerSecond?: number;
  /** The window both are counted over. @default 10_000 */
  windowMs?: number;
  /** The window slides by `windowMs / buckets`. @default 10 */
  buckets?: number;
  /** @default the system clock */
  clock?: Clock;
}

export const RETRY_BUDGET_DEFAULTS = Object.freeze({
  ratio: 0.1,
  minPerSecond: 10,
  windowMs: 10_000,
  buckets: 10,
});

/**
 * A share of extra attempts (retries, hedges) that many policies draw from, so retries cannot
 * multiply load when a downstream is failing (Envoy's and Linkerd's retry budgets).
 */
export interface RetryBudget {
  /** Counts one original call (not a retry). */
  recordRequest(): void;
  /** Takes one extra attempt from the budget; `false` when it is spent. */
  tryAcquire(): boolean;
  /** Extra attempts the budget would grant now. */
  readonly available: number;
}

/**
 * A retry budget: at every grant, the extra attempts granted in the `windowMs` ending there are at
 * most `ratio` × the requests recorded in it + `minPerSecond` × `windowMs` / 1000.
 *
 * Counts live in `buckets` buckets. To keep the bound exact at any moment, not only at bucket edges,
 * the count is conservative both ways: grants are counted over every bucket that overlaps the
 * window (the oldest one partly), requests only over the buckets wholly inside it.
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  checkOptions('retryBudget', options, ['ratio', 'minPerSecond', 'windowMs', 'buckets', 'clock']);
  const d = RETRY_BUDGET_DEFAULTS;
  const ratio = finiteNumber('retryBudget', 'ratio', given(options.ratio, d.ratio));
  const minPerSecond = finiteNumber(
    'retryBudget',
    'minPerSecond',
    given(options.minPerSecond, d.minPerSecond),
  );
  const windowMs = positiveFinite('retryBudget', 'windowMs', given(options.windowMs, d.windowMs));
  const buckets = integer('retryBudget', 'buckets', given(options.buckets, d.buckets), 1);
  const clock = clockOption('retryBudget', options.clock, systemClock);
  const floor = (minPerSecond * windowMs) / 1_000;
  // One slot more than the window holds: the oldest, partly expired bucket still counts for grants.
  const REQUESTS = 0;
  const GRANTS = 1;
  const counters = new SlidingCounters(2, buckets + 1, windowMs / buckets);

  /** Extra attempts allowed now: requests only from the `buckets` buckets wholly in the window. */
  function allowance(): number {
    return ratio * counters.sum(REQUESTS, buckets) + floor - counters.sum(GRANTS);
  }

  return {
    recordRequest(): void {
      counters.add(REQUESTS, counters.advance(clock.now()));
    },
    tryAcquire(): boolean {
      const slot = counters.advance(clock.now());
      if (allowance() < 1) return false;
      counters.add(GRANTS, slot);
      return true;
    },
    get available(): number {
      counters.advance(clock.now());
      return Math.max(0, Math.floor(allowance()));
    },
  };
}

/** The `budget` option of retry and hedge: absent, or something with both methods they call. */
export function budgetOption(policy: string, value: unknown): RetryBudget | undefined {
  if (value === undefined) return undefined;
  const budget = value as Partial<RetryBudget> | null;
  if (
    typeof budget !== 'object' ||
    budget === null ||
    typeof budget.recordRequest !== 'function' ||
    typeof budget.tryAcquire !== 'function'
  ) {
    throw optionError(policy, 'budget', 'a retryBudget (recordRequest and tryAcquire)', value);
  }
  return budget as RetryBudget;
}
