import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import { type Backoff, exponential } from './backoff.js';
import type { RetryBudget } from './budget.js';

export interface RetryOptions {
  /** Name in events and telemetry. @default 'retry' */
  name?: string;
  /** Attempts in total, the first included. `Infinity` is allowed but risky: pair it with a deadline. @default 3 */
  maxAttempts?: number;
  /** Delay before each retry. @default backoff.exponential({ initialMs: 100, maxMs: 10_000, factor: 2, jitter: 'full' }) */
  backoff?: Backoff;
  /**
   * Which outcomes are retried. Sees `{ error }` or `{ value }` and the context.
   * @default every error except the caller's own abort; no value
   */
  retryOn?: OutcomePredicate;
  /** A `retryAfterMs` above this makes retry give up rather than come back early. @default 60_000 */
  maxRetryAfterMs?: number;
  /**
   * A `retryBudget` shared with other retries (and hedges): each call records a request, each retry
   * takes one extra attempt; an empty budget ends retrying (`onGiveUp` reason `'budget'`).
   * @default none: only `maxAttempts` bounds retries
   */
  budget?: RetryBudget;
  /** @default the system clock */
  clock?: Clock;
  /** @default Math.random */
  random?: Random;
}

export const RETRY_DEFAULTS = Object.freeze({
  name: 'retry',
  maxAttempts: 3,
  backoff: exponential({ initialMs: 100, maxMs: 10_000, factor: 2, jitter: 'full' }),
  maxRetryAfterMs: 60_000,
});

export interface RetryEvent extends EventBase {
  /** The attempt that just failed (1-based). */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error?: unknown;
  readonly value?: unknown;
}

/** Why retry stopped repeating an outcome it would otherwise retry. */
export type GiveUpReason =
  | 'max-attempts'
  | 'not-idempotent'
  | 'not-retryable'
  | 'retry-after-too-long'
  | 'circuit-open'
  | 'deadline'
  | 'budget';

export interface GiveUpEvent extends EventBase {
  readonly attempts: number;
  readonly reason: GiveUpReason;
  readonly error?: unknown;
  readonly value?: unknown;
}
