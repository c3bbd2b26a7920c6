export {
  type Breaker,
  type BreakerWindow,
  breakers,
  COUNT_BREAKER_DEFAULTS,
  type CountBreakerOptions,
} from './breakers.js';
export { type CircuitBreakerPolicy, circuitBreaker } from './circuit-breaker.js';
export {
  type BreakerRejectEvent,
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerOptions,
  type CircuitState,
  type StateChangeEvent,
} from './options.js';
