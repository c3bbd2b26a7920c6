export { type IdempotencyPolicy, idempotency } from './idempotency.js';
export {
  IDEMPOTENCY_DEFAULTS,
  type IdempotencyKeyEvent,
  type IdempotencyLeaseLostEvent,
  type IdempotencyOptions,
  type IdempotencyReplayEvent,
  type IdempotencyWait,
} from './options.js';
