import type { Clock } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { IdempotencyStore } from '../stores/idempotency-store.js';

export interface IdempotencyWait {
  /** How long a duplicate waits for the first call's result before `IdempotencyConflictError`. @default 0 */
  maxMs?: number;
}

export interface IdempotencyOptions {
  /** Name in events and telemetry. @default 'idempotency' */
  name?: string;
  /** Where keys are claimed and results kept: `memoryIdempotencyStore()` or `redisIdempotencyStore(…)`. Required. */
  store: IdempotencyStore;
  /** How long a completed result is replayed. @default 86_400_000 (24 h) */
  ttlMs?: number;
  /** How long a claim holds without a heartbeat; the holder extends it every third of it while it runs. @default 30_000 */
  leaseMs?: number;
  /** Duplicates in flight: wait up to `maxMs` for the result (woken by the store). @default { maxMs: 0 } */
  wait?: IdempotencyWait;
  /**
   * `'success'`: only a success is kept; a failure frees the key for another try. `'started'`:
   * failures are kept and replayed too (Stripe's rule: once the work started, its outcome is the answer).
   * @default 'success'
   */
  saveOn?: 'success' | 'started';
  /** Keys longer than this many UTF-8 bytes are refused. @default 1_024 */
  maxKeyBytes?: number;
  /** @default the system clock */
  clock?: Clock;
}

export const IDEMPOTENCY_DEFAULTS = Object.freeze({
  name: 'idempotency',
  ttlMs: 86_400_000,
  leaseMs: 30_000,
  waitMs: 0,
  saveOn: 'success' as 'success' | 'started',
  maxKeyBytes: 1_024,
});

export interface IdempotencyKeyEvent extends EventBase {
  readonly idempotencyKey: string;
}

export interface IdempotencyReplayEvent extends IdempotencyKeyEvent {
  /** The replayed outcome was a failure (`saveOn: 'started'`). */
  readonly failed: boolean;
}

export interface IdempotencyLeaseLostEvent extends IdempotencyKeyEvent {
  /** What found the claim gone: a heartbeat, or the attempt to store the result. */
  readonly during: 'extend' | 'complete' | 'release';
}
