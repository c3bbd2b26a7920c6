export {
  type Backoff,
  backoff,
  type ConstantBackoffOptions,
  EXPONENTIAL_DEFAULTS,
  type ExponentialBackoffOptions,
  type ExponentialJitter,
  type Jitter,
  LINEAR_DEFAULTS,
  type LinearBackoffOptions,
} from './backoff.js';
export { RETRY_BUDGET_DEFAULTS, type RetryBudget, type RetryBudgetOptions, retryBudget } from './budget.js';
export {
  type GiveUpEvent,
  type GiveUpReason,
  RETRY_DEFAULTS,
  type RetryEvent,
  type RetryOptions,
} from './options.js';
export { type RetryPolicy, retry } from './retry.js';
