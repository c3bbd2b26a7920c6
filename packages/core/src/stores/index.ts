export {
  type BreakerRecord,
  type BreakerStateStore,
  type MemoryBreakerStoreOptions,
  memoryBreakerStore,
} from './breaker-state-store.js';
