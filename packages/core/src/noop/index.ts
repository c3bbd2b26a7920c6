export { noop } from './noop.js';
export { NOOP_DEFAULTS, type NoopOptions } from './options.js';
