import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { Priority } from '../pipeline/context.js';
import type { Limit } from './limits.js';

export interface LoadShedOptions {
  /** Name in events and telemetry. @default 'load-shed' */
  name?: string;
  /** Required: `limits.fixed(n)`, `limits.aimd(…)`, `limits.gradient(…)`, `limits.vegas(…)` or your own. */
  limit: Limit;
  /** Calls that may wait for a slot (newest served first); more are shed at once. @default 0 */
  maxQueue?: number;
  /** Longest wait in the queue. @default Infinity (bounded by the queue and the caller's signal) */
  queueTimeoutMs?: number;
  /**
   * The share of the limit each priority may fill: sheddable work cannot take the headroom kept for
   * critical work. @default { sheddable: 0.5, default: 0.9, critical: 1 }
   */
  priorities?: Partial<Record<Priority, number>>;
  /**
   * Also shed (all but `critical` work) while this process is overloaded: the event loop's delay over
   * `maxDelayMs`, or its utilisation over `maxUtilization` (0–1), sampled every `intervalMs` on a
   * background timer. Call `dispose()` to stop sampling. @default none
   */
  eventLoop?: EventLoopTrigger;
  /** @default the system clock */
  clock?: Clock;
  /** Jitters the `retryAfterMs` of a shed call. @default Math.random */
  random?: Random;
}

/** One reading of the event loop over the last interval. */
export interface EventLoopReading {
  /** How late the sampler's own timer fired (ms). */
  delayMs: number;
  /** Share of the interval the loop was busy (0–1), from `performance.eventLoopUtilization`. */
  utilization: number;
}

export interface EventLoopTrigger {
  maxDelayMs?: number;
  maxUtilization?: number;
  /** @default 500 */
  intervalMs?: number;
  /**
   * Where readings come from; called once per interval. @default the process's own event loop
   * (timer lag measured with `performance.now()`, utilisation from `perf_hooks`)
   */
  probe?: (intervalMs: number) => EventLoopReading;
}

export const LOAD_SHED_DEFAULTS = Object.freeze({
  name: 'load-shed',
  maxQueue: 0,
  queueTimeoutMs: Number.POSITIVE_INFINITY,
  priorities: Object.freeze({ sheddable: 0.5, default: 0.9, critical: 1 }),
});

export interface ShedEvent extends EventBase {
  readonly reason: 'limit' | 'queue-timeout' | 'event-loop';
  readonly priority: Priority;
  readonly inflight: number;
  readonly limit: number;
}
