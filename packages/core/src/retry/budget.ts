import { type Clock, systemClock } from '../clock/clock.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  given,
  integer,
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
  const bucketMs = windowMs / buckets;
  // One slot more than the window holds: the oldest, partly expired bucket still counts for grants.
  const slots = buckets + 1;
  const requestsIn = new Float64Array(slots);
  const grantsIn = new Float64Array(slots);
  let current = Number.NEGATIVE_INFINITY; // index (time / bucketMs) of the newest bucket
  let grants = 0; // over all slots
  const slotOf = (index: number): number => ((index % slots) + slots) % slots;

  /** Moves the window to `now`, emptying the buckets that fell out; returns the newest bucket's slot. */
  function advance(now: number): number {
    const index = Math.floor(now / bucketMs);
    if (index > current) {
      if (index - current >= slots) {
        requestsIn.fill(0);
        grantsIn.fill(0);
        grants = 0;
      } else {
        for (let i = current + 1; i <= index; i++) {
          const slot = slotOf(i);
          grants -= grantsIn[slot]!;
          grantsIn[slot] = 0;
          requestsIn[slot] = 0;
        }
      }
      current = index;
    }
    return slotOf(current); // a clock that went back records into the newest bucket
  }

  /** Extra attempts allowed now: requests only from the `buckets` buckets wholly in the window. */
  function allowance(): number {
    let requests = 0;
    for (let k = 0; k < buckets; k++) requests += requestsIn[slotOf(current - k)]!;
    return ratio * requests + floor - grants;
  }

  return {
    recordRequest(): void {
      requestsIn[advance(clock.now())]!++;
    },
    tryAcquire(): boolean {
      const slot = advance(clock.now());
      if (allowance() < 1) return false;
      grantsIn[slot]!++;
      grants++;
      return true;
    },
    get available(): number {
      advance(clock.now());
      return Math.max(0, Math.floor(allowance()));
    },
  };
}
