import type { EventBase } from '../events/events.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';

export interface FallbackOptions {
  /** Name in events and telemetry. @default 'fallback' */
  name?: string;
  /**
   * Which outcomes are replaced. Sees `{ error }` or `{ value }` and the context.
   * @default every error except the caller's own abort; no value
   */
  on?: OutcomePredicate;
}

export const FALLBACK_DEFAULTS = Object.freeze({ name: 'fallback' });

export interface FallbackEvent extends EventBase {
  readonly error?: unknown;
  readonly value?: unknown;
}
