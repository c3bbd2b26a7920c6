export { requestFingerprint } from './fingerprint.js';
export {
  DEADLINE_HEADER,
  formatDeadline,
  formatRetryAfter,
  fromSfString,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  type IdempotencyKeyResult,
  parseIdempotencyKey,
  parseRetryAfter,
  readDeadline,
  toSfString,
} from './headers.js';
export {
  type HttpIdempotencyOptions,
  type IdempotencyDecision,
  type IdempotencyPlan,
  type IdempotentRequest,
  idempotencyPlan,
  ServerErrorResponse,
} from './idempotent-responses.js';
export { type IpKeyOptions, ipv6Prefix, type KeyFunction, keys, type RequestLike } from './keys.js';
export {
  type ErrorResponse,
  type ErrorResponseOptions,
  errorResponse,
  PROBLEM_CONTENT_TYPE,
  type ProblemDetails,
  problem,
} from './problem.js';
export {
  RATE_LIMIT_DRAFTS,
  type RateLimitDraft,
  type RateLimitInfo,
  rateLimitHeaders,
} from './rate-limit-headers.js';
export {
  type Admitted,
  Refusal,
  type RequestBreakwater,
  type ServerOptions,
  type ServerPlan,
  type ServerRequest,
  serverPlan,
} from './server.js';
export {
  REPLAYED_HEADER,
  REPLAYED_HEADERS,
  type StoredResponse,
  storedBody,
  storeResponse,
} from './stored-response.js';
