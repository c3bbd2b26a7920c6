export {
  type Limiter,
  type LimiterResult,
  RATE_LIMIT_DEFAULTS,
  type RateLimitOptions,
  type RateLimitRejectEvent,
  type TokenBucket,
  type TokenBucketOptions,
} from './options.js';
export { type RateLimitPolicy, rateLimit } from './rate-limit.js';
