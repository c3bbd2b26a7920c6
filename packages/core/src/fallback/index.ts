export { type FallbackPolicy, type FallbackValue, fallback } from './fallback.js';
export { FALLBACK_DEFAULTS, type FallbackEvent, type FallbackOptions } from './options.js';
