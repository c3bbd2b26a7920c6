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
} from './errors.js';
