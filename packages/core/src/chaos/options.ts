import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { PolicyContext } from '../pipeline/context.js';

/** What every chaos policy takes. */
export interface ChaosOptions {
  /** Name in events and telemetry. @default 'chaos' */
  name?: string;
  /** Fraction of calls (0–1) that get the injection. Required. */
  rate: number;
  /** Whether the policy injects at all: a boolean, or a function asked on every call. @default true */
  enabled?: boolean | (() => boolean);
  /** @default Math.random */
  random?: Random;
  /** @default the system clock */
  clock?: Clock;
}

export interface ChaosFaultOptions extends ChaosOptions {
  /** What an injected call rejects with: a value, or a function of the context. @default a ChaosError */
  error?: unknown;
}

export interface ChaosLatencyOptions extends ChaosOptions {
  /** How long an injected call waits before fn runs: ms, or a function of the context. Required. */
  delayMs: number | ((ctx: PolicyContext) => number);
}

export interface ChaosOutcomeOptions<T> extends ChaosOptions {
  /** What an injected call resolves with, without running fn: a value, or a function of the context. */
  value: T | ((ctx: PolicyContext) => T);
}

export const CHAOS_DEFAULTS = Object.freeze({ name: 'chaos', enabled: true });

export interface InjectEvent extends EventBase {
  readonly injection: 'fault' | 'latency' | 'outcome';
  /** The latency injected, for `chaos.latency`. */
  readonly delayMs?: number;
}
