export {
  type BreakerRecord,
  type BreakerStateStore,
  type MemoryBreakerStoreOptions,
  memoryBreakerStore,
} from './breaker-state-store.js';
export {
  type CacheEntry,
  type CacheStore,
  type MaybePromise,
  MEMORY_CACHE_STORE_DEFAULTS,
  type MemoryCacheStore,
  type MemoryCacheStoreOptions,
  memoryCacheStore,
} from './cache-store.js';
export {
  type BeginOptions,
  type BeginResult,
  type IdempotencyStore,
  type IdempotentResult,
  type MemoryIdempotencyStoreOptions,
  memoryIdempotencyStore,
} from './idempotency-store.js';
export {
  type Lock,
  type LockAcquireOptions,
  type LockProvider,
  type MemoryLocksOptions,
  memoryLocks,
} from './locks.js';
