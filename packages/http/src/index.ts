export {
  CACHE_HIT,
  CACHE_MISS,
  CACHE_STATUS_HEADER,
  type CacheableRequest,
  type CacheDecision,
  type CachePlan,
  ClientGoneError,
  cachePlan,
  type HttpCacheOptions,
} from './cached-responses.js';
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
export { type Exchange, respond } from './respond.js';
export {
  type Admitted,
  type ClientConnection,
  handlerView,
  type RateLimitServerOptions,
  Refusal,
  type RequestBreakwater,
  type ServerOptions,
  type ServerPlan,
  type ServerRequest,
  serverPlan,
  watchClient,
} from './server.js';
export {
  REPLAYED_HEADER,
  REPLAYED_HEADERS,
  type StoredResponse,
  storedBody,
  storeResponse,
} from './stored-response.js';
