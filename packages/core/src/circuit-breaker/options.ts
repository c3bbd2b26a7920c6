import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import type { Backoff } from '../retry/backoff.js';
import type { BreakerStateStore } from '../stores/breaker-state-store.js';
import { type Breaker, count } from './breakers.js';

export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated';

/** What a `toJSON()` gives and `initialState` takes back. */
export interface CircuitSnapshot {
  readonly format: 'breakwater.circuit-breaker';
  /** The snapshot format's version: 1. */
  readonly version: 1;
  readonly name: string;
  readonly state: CircuitState;
  /** Epoch ms from which an open circuit lets trial calls through (0 when not open). */
  readonly openUntil: number;
  /** Openings in a row. */
  readonly openings: number;
  /** The last open period, which a backoff `halfOpenAfterMs` grows from. */
  readonly lastOpenMs: number | null;
}

export interface CircuitBreakerOptions {
  /** Name in events and telemetry; breakers sharing a `store` share state by name. @default 'circuit-breaker' */
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
  /** A snapshot from `toJSON()` to start from (a restart that should not forget an open circuit). */
  initialState?: CircuitSnapshot;
  /** Shares open/closed/half-open state with every breaker of the same `name` on the store. */
  store?: BreakerStateStore;
  /** How long one instance may hold the cluster-wide half-open trial before another may take it. @default 10_000 */
  trialLeaseMs?: number;
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
  trialLeaseMs: 10_000,
});

/** Why the circuit changed state. */
export type StateChangeReason =
  /** The failure rate (or the consecutive failures) reached the threshold. */
  | 'failures'
  /** The slow-call rate reached its threshold. */
  | 'slow-calls'
  /** A half-open trial failed. */
  | 'trial-failed'
  /** Enough half-open trials succeeded. */
  | 'trial-succeeded'
  /** The open period elapsed: trials may go through. */
  | 'elapsed'
  | 'isolated'
  /** The last `isolate()` handle was disposed. */
  | 'released'
  | 'reset'
  /** Another instance sharing the store changed state. */
  | 'store';

export interface StateChangeEvent extends EventBase {
  readonly from: CircuitState;
  readonly to: CircuitState;
  readonly reason: StateChangeReason;
  /** The failure that opened the circuit (`reason` `'failures'`, `'slow-calls'` or `'trial-failed'`). */
  readonly error?: unknown;
  /** The value that opened it, when `isFailure` counts values or the call was slow. */
  readonly value?: unknown;
}

export interface BreakerRejectEvent extends EventBase {
  readonly state: CircuitState;
  readonly retryAfterMs: number | undefined;
}

export interface StoreErrorEvent extends EventBase {
  /** The store method that failed. */
  readonly operation: 'get' | 'set' | 'acquireTrial' | 'releaseTrial' | 'subscribe';
  readonly error: unknown;
}
