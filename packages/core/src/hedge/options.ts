import type { Clock } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import type { RetryBudget } from '../retry/budget.js';

/** A delay taken from the latencies of recent successful calls. */
export interface ObservedDelay {
  /** Which latency percentile to hedge at, in (0, 1): 0.95 hedges the slowest 5%. Required. */
  percentile: number;
  /** How far back latencies are counted. @default 60_000 */
  windowMs?: number;
  /** Latencies needed before the percentile is trusted; until then `initialMs`. @default 100 */
  minSamples?: number;
  /** The delay before `minSamples` latencies are seen. Required. */
  initialMs: number;
  /** @default 1 */
  minMs?: number;
  /** @default none */
  maxMs?: number;
}

export type HedgeMode = 'latency' | 'parallel' | 'fallback';

export interface HedgeOptions {
  /** Name in events and telemetry. @default 'hedge' */
  name?: string;
  /** A fixed delay before each hedge. Exactly one of `delayMs` and `delay`. */
  delayMs?: number;
  /** A delay from the observed latency percentile. Exactly one of `delayMs` and `delay`. */
  delay?: ObservedDelay;
  /** Extra attempts at most. @default 1 */
  maxHedges?: number;
  /**
   * `'latency'`: another attempt after the delay while nothing has answered, and at once after a
   * failed one; `'parallel'`: all attempts at once; `'fallback'`: another attempt only after a failure.
   * @default 'latency'
   */
  mode?: HedgeMode;
  /** A `retryBudget` shared with retries: each hedge takes one extra attempt; an empty budget stops hedging. */
  budget?: RetryBudget;
  /**
   * Which outcomes call for another attempt (the others answer the call).
   * @default every error except the caller's abort; no value
   */
  shouldHedge?: OutcomePredicate;
  /** @default the system clock */
  clock?: Clock;
}

export const HEDGE_DEFAULTS = Object.freeze({
  name: 'hedge',
  maxHedges: 1,
  mode: 'latency' as HedgeMode,
  windowMs: 60_000,
  minSamples: 100,
  minMs: 1,
});

export interface HedgeEvent extends EventBase {
  /** The attempt started (2 for the first hedge). */
  readonly attempt: number;
  /** The delay in force when it started (0 after a failure, or in parallel mode). */
  readonly delayMs: number;
}
