import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import type { Backoff } from '../retry/backoff.js';
import { type Breaker, count } from './breakers.js';

export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

export interface CircuitBreakerOptions {
  /** Name in events and telemetry. @default 'circuit-breaker' */
  name?: string;
  /** When to open. @default breakers.count({ size: 100, failureRate: 0.5, minCalls: 20 }) */
  breaker?: Breaker;
  /**
   * How long the circuit stays open before letting trial calls through: a number of ms, or a
   * backoff over consecutive openings (the n-th opening in a row waits `delayMs(n)`).
   * @default 30_000
   */
  halfOpenAfterMs?: number | Backoff;
  /** Trial calls let through at once when half-open; that many successes close the circuit. @default 1 */
  halfOpenMaxCalls?: number;
  /**
   * Which outcomes count as failures. Sees `{ error }` or `{ value }` and the context.
   * @default every error except the caller's own abort; no value
   */
  isFailure?: OutcomePredicate;
  /** @default the system clock */
  clock?: Clock;
  /** Used by a jittered `halfOpenAfterMs` backoff. @default Math.random */
  random?: Random;
}

export const CIRCUIT_BREAKER_DEFAULTS = Object.freeze({
  name: 'circuit-breaker',
  breaker: count({ size: 100, failureRate: 0.5, minCalls: 20 }),
  halfOpenAfterMs: 30_000,
  halfOpenMaxCalls: 1,
});

export interface StateChangeEvent extends EventBase {
  readonly from: CircuitState;
  readonly to: CircuitState;
}

export interface BreakerRejectEvent extends EventBase {
  readonly state: CircuitState;
  readonly retryAfterMs: number | undefined;
}
