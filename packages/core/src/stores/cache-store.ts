import { LRUCache } from 'lru-cache';
import { type Clock, systemClock } from '../clock/clock.js';
import { checkOptions, clockOption, func, given, integer } from '../errors/validate.js';

/** A value or a promise of it: memory stores answer synchronously, so a hit allocates no promise. */
export type MaybePromise<T> = T | Promise<T>;

/** One cached entry, as `cache` writes it and every `CacheStore` keeps it. Times are epoch ms. */
export interface CacheEntry<T = unknown> {
  readonly value: T;
  readonly createdAt: number;
  /** Served as fresh until then. */
  readonly freshUntil: number;
  /** Served stale (while revalidating, or on a failed load) until then; the store may drop it after. */
  readonly staleUntil: number;
  /** How long the load that made it took: XFetch's δ. */
  readonly loadMs: number;
  readonly tags: readonly string[];
  /** A negative entry (a miss at the origin, cached for `negativeTtlMs`). */
  readonly negative: boolean;
  /**
   * The fencing token of the lock the loader held, when it held one. A store keeps the entry of the
   * highest token it has seen for a key: a loader whose lease ran out cannot overwrite a newer one.
   */
  readonly fence?: number | undefined;
}

/** Where `cache` keeps entries. Each method may answer synchronously or with a promise. */
export interface CacheStore {
  get(key: string): MaybePromise<CacheEntry | undefined>;
  /** Keeps `entry` until its `staleUntil` (or sooner, under memory pressure); ignores an older fence. */
  set(key: string, entry: CacheEntry): MaybePromise<void>;
  delete(key: string): MaybePromise<void>;
  /** Drops every entry carrying `tag`. */
  invalidateTag(tag: string): MaybePromise<void>;
}

export interface MemoryCacheStoreOptions {
  /** Entries kept at most; the least recently used go first. @default 10_000 */
  max?: number;
  /** A bound on the entries' total size in bytes, as `sizeOf` measures them. @default none */
  maxBytes?: number;
  /** The size of an entry, for `maxBytes`. @default an estimate from its value's JSON length */
  sizeOf?: (entry: CacheEntry) => number;
  /** Decides when an entry is past its `staleUntil`. @default the system clock */
  clock?: Clock;
}

export const MEMORY_CACHE_STORE_DEFAULTS = Object.freeze({ max: 10_000 });

/** A rough size in bytes: UTF-16 for the JSON of the value, 1 KiB for what JSON cannot show. */
function estimateBytes(entry: CacheEntry): number {
  try {
    const json = JSON.stringify(entry.value);
    return 64 + (json === undefined ? 8 : json.length * 2);
  } catch {
    return 1_024;
  }
}

/** The in-process store (lru-cache): bounded by count and optionally by bytes, with a tag index. */
export interface MemoryCacheStore extends CacheStore {
  get(key: string): CacheEntry | undefined;
  set(key: string, entry: CacheEntry): void;
  delete(key: string): void;
  invalidateTag(tag: string): void;
  /** Entries held now (some may be past `staleUntil` and dropped when next read). */
  readonly size: number;
  clear(): void;
}

export function memoryCacheStore(options: MemoryCacheStoreOptions = {}): MemoryCacheStore {
  checkOptions('memoryCacheStore', options, ['max', 'maxBytes', 'sizeOf', 'clock']);
  const max = integer('memoryCacheStore', 'max', given(options.max, MEMORY_CACHE_STORE_DEFAULTS.max), 1);
  const maxBytes =
    options.maxBytes === undefined ? undefined : integer('memoryCacheStore', 'maxBytes', options.maxBytes, 1);
  const sizeOf =
    options.sizeOf === undefined
      ? estimateBytes
      : func<(entry: CacheEntry) => number>('memoryCacheStore', 'sizeOf', options.sizeOf);
  const clock = clockOption('memoryCacheStore', options.clock, systemClock);
  const byTag = new Map<string, Set<string>>();

  const untag = (key: string, entry: CacheEntry): void => {
    for (const tag of entry.tags) {
      const keys = byTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) byTag.delete(tag);
    }
  };
  // lru-cache refuses a size that is not a positive integer; a broken sizeOf must not throw from set.
  const measure = (entry: CacheEntry): number => {
    try {
      const n = Math.ceil(sizeOf(entry));
      return Number.isFinite(n) && n >= 1 ? n : 1;
    } catch {
      return 1;
    }
  };
  const lru = new LRUCache<string, CacheEntry>({
    max,
    ...(maxBytes === undefined ? {} : { maxSize: maxBytes, sizeCalculation: measure }),
    dispose: (entry, key) => untag(key, entry),
  });

  return {
    get(key) {
      const entry = lru.get(key);
      if (entry === undefined) return undefined;
      if (entry.staleUntil <= clock.now()) {
        lru.delete(key);
        return undefined;
      }
      return entry;
    },
    set(key, entry) {
      const existing = lru.peek(key);
      if (existing?.fence !== undefined && entry.fence !== undefined && entry.fence < existing.fence) return;
      if (maxBytes !== undefined && measure(entry) > maxBytes) {
        // Too big to keep at all: drop what was there rather than keep an older value.
        lru.delete(key);
        return;
      }
      lru.set(key, entry);
      for (const tag of entry.tags) {
        let keys = byTag.get(tag);
        if (keys === undefined) {
          keys = new Set();
          byTag.set(tag, keys);
        }
        keys.add(key);
      }
    },
    delete(key) {
      lru.delete(key);
    },
    invalidateTag(tag) {
      const keys = byTag.get(tag);
      if (keys === undefined) return;
      for (const key of [...keys]) lru.delete(key);
      byTag.delete(tag);
    },
    get size() {
      return lru.size;
    },
    clear() {
      lru.clear();
    },
  };
}
