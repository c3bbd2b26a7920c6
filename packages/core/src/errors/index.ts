export {
  BreakwaterError,
  type BreakwaterErrorCode,
  type BreakwaterErrorOptions,
  BulkheadFullError,
  CircuitOpenError,
  isBreakwaterError,
  isRejectedError,
  RejectedError,
  TimeoutError,
  type TimeoutErrorOptions,
} from './errors.js';
