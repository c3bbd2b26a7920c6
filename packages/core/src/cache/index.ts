export { type CachePolicy, type CacheSetOptions, cache, checkCacheKey } from './cache.js';
export {
  CACHE_DEFAULTS,
  type CacheKeyEvent,
  type CacheLoadEvent,
  type CacheOptions,
  type CacheStaleEvent,
  type CacheStoreErrorEvent,
  type EarlyRefresh,
} from './options.js';
