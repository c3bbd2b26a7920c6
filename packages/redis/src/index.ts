export {
  type BottleneckLimiter,
  type BottleneckLimiterOptions,
  bottleneckLimiter,
} from './bottleneck-limiter.js';
export { type RedisBreakerStore, type RedisBreakerStoreOptions, redisBreakerStore } from './breaker-store.js';
export { type BusMessage, type CacheBus, type RedisBusOptions, redisBus } from './bus.js';
export {
  jsonSerializer,
  type RedisCacheStoreOptions,
  redisCacheStore,
  type Serializer,
} from './cache-store.js';
export {
  type RedisIdempotencyStore,
  type RedisIdempotencyStoreOptions,
  redisIdempotencyStore,
} from './idempotency-store.js';
export { type RedisLockProvider, type RedisLocksOptions, redisLocks } from './locks.js';
export { type RedisRateLimiter, type RedisRateLimiterOptions, redisRateLimiter } from './rate-limiter.js';
export type { RedisStoreOptions } from './redis-shared.js';
export {
  type TieredCacheStore,
  type TieredCacheStoreOptions,
  tieredCacheStore,
} from './tiered-cache-store.js';
