export {
  type Breaker,
  type BreakerWindow,
  breakers,
  COUNT_BREAKER_DEFAULTS,
  type CountBreakerOptions,
  type OpenReason,
  type SlowCallOptions,
  TIME_BREAKER_DEFAULTS,
  type TimeBreakerOptions,
} from './breakers.js';
export { type CircuitBreakerPolicy, circuitBreaker } from './circuit-breaker.js';
export {
  type BreakerRejectEvent,
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  type StateChangeEvent,
  type StateChangeReason,
  type StoreErrorEvent,
} from './options.js';
