export * from './bulkhead/index.js';
export * from './cache/index.js';
export * from './chaos/index.js';
export * from './circuit-breaker/index.js';
export { type Clock, type Random, systemClock } from './clock/index.js';
export * from './cockatiel/index.js';
export * from './errors/index.js';
export {
  CIRCUIT_STATE_VALUES,
  type Disposable,
  type EventBase,
  type GaugeReading,
  type Listener,
  type NextEventOptions,
  nextEvent,
  readGauges,
} from './events/index.js';
export * from './fallback/index.js';
export * from './hedge/index.js';
export * from './idempotency/index.js';
export { limits } from './limits/index.js';
export * from './load-shed/index.js';
export * from './noop/index.js';
export * from './pipeline/index.js';
export * from './presets/index.js';
export * from './rate-limit/index.js';
export * from './retry/index.js';
export * from './stores/index.js';
export * from './throttle/index.js';
export * from './timeout/index.js';
