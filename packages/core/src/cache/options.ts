import type { Clock, Random } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { CacheStore } from '../stores/cache-store.js';
import type { LockProvider } from '../stores/locks.js';

export interface EarlyRefresh {
  /** XFetch's β: above 1 refreshes earlier, below 1 later. @default 1 */
  beta?: number;
}

export interface CacheOptions<T = unknown> {
  /** Name in events and telemetry. @default 'cache' */
  name?: string;
  /** Where entries live: `memoryCacheStore()`, or a Redis or tiered store from `@breakwater/redis`. Required. */
  store: CacheStore;
  /** How long an entry is fresh. Required. */
  ttlMs: number;
  /** After `ttlMs`, how long a stale entry is served at once while one background load refreshes it. @default 0 */
  staleWhileRevalidateMs?: number;
  /** After `ttlMs`, how long a stale entry is served when a load fails. @default 0 */
  staleIfErrorMs?: number;
  /** Each entry's TTL is scaled by 1 ± `jitter` × random, so entries made together do not expire together. In [0, 1). @default 0 */
  jitter?: number;
  /**
   * XFetch (Vattani et al., VLDB 2015): a fresh hit starts a background refresh early, when
   * now − δ·β·ln(random) ≥ expiry, δ being how long the entry took to load. @default false
   */
  earlyRefresh?: boolean | EarlyRefresh;
  /** How long a negative value (see `isNegative`) is cached. @default negative values are not cached */
  negativeTtlMs?: number;
  /** Which values are negative (a miss at the origin). @default `value === undefined || value === null` */
  isNegative?: (value: T) => boolean;
  /**
   * Loads across processes take this lock first, so one process loads a key while the others wait
   * for its entry. @default none: one load per key per process
   */
  lock?: LockProvider;
  /** A load is aborted (its signal, with a `TimeoutError`) after this. @default 30_000 */
  loadTimeoutMs?: number;
  /** Tags of every entry, or a function of the key and value. A loader's `ctx.cache.tags` wins. @default none */
  tags?: readonly string[] | ((key: string, value: T) => readonly string[]);
  /** Keys longer than this many UTF-8 bytes are refused. @default 1_024 */
  maxKeyBytes?: number;
  /** @default the system clock */
  clock?: Clock;
  /** For TTL jitter and XFetch. @default Math.random */
  random?: Random;
}

export const CACHE_DEFAULTS = Object.freeze({
  name: 'cache',
  staleWhileRevalidateMs: 0,
  staleIfErrorMs: 0,
  jitter: 0,
  beta: 1,
  loadTimeoutMs: 30_000,
  maxKeyBytes: 1_024,
});

export interface CacheKeyEvent extends EventBase {
  readonly key: string;
}

export interface CacheLoadEvent extends CacheKeyEvent {
  readonly durationMs: number;
  /** The load ran in the background (stale-while-revalidate, early refresh): no caller waited on it. */
  readonly background: boolean;
  /** Set when the load failed. */
  readonly error?: unknown;
}

export interface CacheStaleEvent extends CacheKeyEvent {
  /** Why a stale entry was served: a refresh is under way, or the load failed. */
  readonly reason: 'revalidating' | 'load-failed';
}

export interface CacheStoreErrorEvent extends EventBase {
  readonly key: string | undefined;
  readonly operation: 'get' | 'set' | 'delete' | 'invalidateTag' | 'lock';
  readonly error: unknown;
}
