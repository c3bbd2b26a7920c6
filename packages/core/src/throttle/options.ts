import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';

export interface ThrottleOptions {
  /** Name in events and telemetry. @default 'throttle' */
  name?: string;
  /**
   * How many requests per backend accept the client lets through before it starts rejecting
   * locally: 2 lets the backend refuse up to half. Lower is more aggressive. @default 2
   */
  k?: number;
  /** The window requests and accepts are counted over. @default 120_000 */
  windowMs?: number;
  /** The window slides by `windowMs / buckets`. @default 12 */
  buckets?: number;
  /**
   * Which outcomes the backend refused (overloaded, throttled, timed out). Sees `{ error }` or `{ value }`.
   * @default every error except the caller's abort and a throttle's own rejection; no value
   */
  isRejection?: OutcomePredicate;
  /** @default the system clock */
  clock?: Clock;
  /** @default Math.random */
  random?: Random;
}

export const THROTTLE_DEFAULTS = Object.freeze({ name: 'throttle', k: 2, windowMs: 120_000, buckets: 12 });

export interface ThrottleRejectEvent extends EventBase {
  /** The probability of a local rejection when this call was refused. */
  readonly probability: number;
}
