export { type ComposeOptions, compose } from './compose.js';
export type { CacheControl, ExecuteOptions, PolicyContext, Priority, RateLimitQuota } from './context.js';
export { type CreatePolicyOptions, createPolicy, type PolicySpec } from './create-policy.js';
export { type Outcome, type OutcomePredicate, retryAfterOf } from './outcome.js';
export type {
  AddsOf,
  AnyPolicy,
  AttemptEvent,
  ContextChanges,
  FailureEvent,
  Next,
  Policy,
  SuccessEvent,
  WrappedArgs,
} from './policy.js';
