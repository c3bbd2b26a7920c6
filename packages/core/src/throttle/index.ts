export { THROTTLE_DEFAULTS, type ThrottleOptions, type ThrottleRejectEvent } from './options.js';
export { type ThrottlePolicy, throttle } from './throttle.js';
