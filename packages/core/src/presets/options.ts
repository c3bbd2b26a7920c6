import type { BulkheadOptions } from '../bulkhead/options.js';
import type { CircuitBreakerOptions } from '../circuit-breaker/options.js';
import type { RetryOptions } from '../retry/options.js';
import type { TimeoutOptions } from '../timeout/options.js';

/** A timeout part: its `ms`, or `ms` with the timeout's other options. */
export type TimeoutPart = number | (TimeoutOptions & { ms: number });

/**
 * Overrides of `presets.http()`. Each part takes options that are laid over its defaults, or
 * `false` to leave the part out.
 */
export interface HttpPresetOptions {
  /** The pipeline's name; parts are named `<name>.<part>`. @default 'http' */
  name?: string;
  /** @default { maxConcurrent: 1_000, maxQueue: 0 } */
  bulkhead?: BulkheadOptions | false;
  /** The whole call, retries included. @default 30_000 */
  totalTimeout?: TimeoutPart | false;
  /** @default { maxAttempts: 3, backoff: backoff.exponential({ initialMs: 2_000, maxMs: 30_000, jitter: 'full' }) } */
  retry?: RetryOptions | false;
  /** @default { breaker: breakers.time({ windowMs: 30_000, failureRate: 0.1, minCalls: 100 }), halfOpenAfterMs: 5_000 } */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Each attempt. @default 10_000 */
  attemptTimeout?: TimeoutPart | false;
}
