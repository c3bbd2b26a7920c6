import type { Clock } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';

export interface BulkheadOptions {
  /** Name in events and telemetry. @default 'bulkhead' */
  name?: string;
  /** Calls running at once. @default 10 */
  maxConcurrent?: number;
  /** Calls waiting for a slot; more are rejected at once. @default 0 (no queue) */
  maxQueue?: number;
  /** Longest wait in the queue before `BulkheadFullError`. @default Infinity (bounded by the queue, the caller's signal and any timeout around it) */
  queueTimeoutMs?: number;
  /** @default the system clock (timers unref'd) */
  clock?: Clock;
}

export const BULKHEAD_DEFAULTS = Object.freeze({
  name: 'bulkhead',
  maxConcurrent: 10,
  maxQueue: 0,
  queueTimeoutMs: Number.POSITIVE_INFINITY,
});

export interface BulkheadRejectEvent extends EventBase {
  readonly reason: 'full' | 'queue-timeout';
  readonly executing: number;
  readonly queued: number;
}
