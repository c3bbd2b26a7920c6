import type { CacheEntry, CacheStore, MemoryCacheStore } from '@breakwater/core';
import type { BusMessage, CacheBus } from './bus.js';

export interface TieredCacheStoreOptions {
  /** This instance's memory tier: `memoryCacheStore()`. */
  l1: MemoryCacheStore;
  /** The shared tier: `redisCacheStore(…)`. */
  l2: CacheStore;
  /** Tells the other instances to drop their L1 copies: `redisBus(…)`. @default none: L1s may serve older values until their TTL */
  bus?: CacheBus;
}

export interface TieredCacheStore extends CacheStore {
  /**
   * Resolves `true` once L1 is in use: at once without a bus, else when the bus's subscription is up
   * (reads go to L2 until then). `false` while Redis cannot be reached.
   */
  ready(): Promise<boolean>;
  /** Stops listening to the bus. */
  close(): Promise<void>;
}

/**
 * L1 in memory in front of a shared L2. A hit in L1 costs no round trip; a miss reads L2 and keeps the
 * entry in L1. Writes, deletes and tag invalidations go to both and over the bus, so the other
 * instances drop their L1 copies and read L2 next time; after the bus reconnects (messages may have
 * been lost) L1 is cleared. With L2 down, L1 keeps serving what it has and the rest goes to the origin.
 */
export function tieredCacheStore(options: TieredCacheStoreOptions): TieredCacheStore {
  const { l1, l2, bus } = options;
  if (typeof l1?.get !== 'function' || typeof l1.clear !== 'function') {
    throw new TypeError('tieredCacheStore: option "l1" must be a memoryCacheStore()');
  }
  if (typeof l2?.get !== 'function')
    throw new TypeError('tieredCacheStore: option "l2" must be a CacheStore');
  const unsubscribe = bus?.subscribe((message: BusMessage) => {
    if (message.type === 'reset') l1.clear();
    else if (message.type === 'tag') l1.invalidateTag(message.tag);
    else l1.delete(message.key);
  });
  // L1 is used only while the bus is known to deliver: before its subscription is up, a message from
  // another instance could be missed and an L1 copy outlive the entry it copied.
  let coherent = bus === undefined;
  let connecting: Promise<boolean> | undefined;
  const connect = (): Promise<boolean> => {
    if (coherent || bus === undefined) return Promise.resolve(true);
    connecting ??= bus.ready().then((ok) => {
      connecting = undefined;
      if (ok && !coherent) {
        l1.clear();
        coherent = true;
      }
      return coherent;
    });
    return connecting;
  };
  void connect();
  const tell = async (message: BusMessage): Promise<void> => {
    await bus?.publish(message);
  };
  return {
    get(key) {
      if (!coherent) void connect();
      const near = coherent ? l1.get(key) : undefined;
      if (near !== undefined) return near;
      return Promise.resolve(l2.get(key)).then((far: CacheEntry | undefined) => {
        if (!coherent) return far;
        // Only what looks like an entry is kept near: anything else is the policy's to report, once.
        if (far !== undefined && typeof far.staleUntil === 'number' && Array.isArray(far.tags))
          l1.set(key, far);
        return far;
      });
    },
    async set(key, entry) {
      if (coherent) l1.set(key, entry);
      await l2.set(key, entry);
      await tell({ type: 'set', key });
    },
    async delete(key) {
      l1.delete(key);
      await l2.delete(key);
      await tell({ type: 'delete', key });
    },
    async invalidateTag(tag) {
      l1.invalidateTag(tag);
      await l2.invalidateTag(tag);
      await tell({ type: 'tag', tag });
    },
    ready: connect,
    async close() {
      unsubscribe?.();
    },
  };
}
