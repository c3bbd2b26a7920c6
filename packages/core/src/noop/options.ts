export interface NoopOptions {
  /** Name in events and telemetry. @default 'noop' */
  name?: string;
}

export const NOOP_DEFAULTS = Object.freeze({ name: 'noop' });
