export { TIMEOUT_DEFAULTS, type TimeoutEvent, type TimeoutMode, type TimeoutOptions } from './options.js';
export { type TimeoutPolicy, timeout } from './timeout.js';
