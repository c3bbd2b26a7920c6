import type { Clock } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';

export type TimeoutMode = 'cooperative' | 'aggressive';

export interface TimeoutOptions {
  /** Name in events and telemetry. @default 'timeout' */
  name?: string;
  /**
   * `'cooperative'`: on expiry abort `ctx.signal`, wait for fn to settle, then reject with
   * `TimeoutError`. `'aggressive'`: reject at expiry without waiting (fn keeps running unobserved).
   * @default 'cooperative'
   */
  mode?: TimeoutMode;
  /** @default the system clock (timers unref'd) */
  clock?: Clock;
}

export const TIMEOUT_DEFAULTS = Object.freeze({
  name: 'timeout',
  mode: 'cooperative' as TimeoutMode,
});

export interface TimeoutEvent extends EventBase {
  /** The time the call was given: the policy's `ms`, or less when a deadline came first. */
  readonly timeoutMs: number;
}
