import { systemClock, systemRandom } from '../clock/clock.js';
import { TimeoutError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  func,
  given,
  integer,
  nameOption,
  optionError,
  positiveFinite,
  randomOption,
  withMethods,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import { type CacheControl, ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import type { CacheEntry, CacheStore } from '../stores/cache-store.js';
import type { Lock, LockProvider } from '../stores/locks.js';
import {
  CACHE_DEFAULTS,
  type CacheKeyEvent,
  type CacheLoadEvent,
  type CacheOptions,
  type CacheStaleEvent,
  type CacheStoreErrorEvent,
} from './options.js';

export interface CacheSetOptions {
  /** @default the policy's `ttlMs` */
  ttlMs?: number;
  /** @default the policy's `tags` */
  tags?: readonly string[];
}

export interface CachePolicy extends Policy {
  /** The entry's value while it is fresh or may be served stale; `undefined` otherwise. */
  get(key: string): Promise<unknown>;
  /** Writes an entry as a load would (TTL jitter included). */
  set(key: string, value: unknown, options?: CacheSetOptions): Promise<void>;
  delete(key: string): Promise<void>;
  /** Drops every entry with `tag`. */
  invalidateTag(tag: string): Promise<void>;
  /** Loads under way in this process. */
  readonly loading: number;
  onHit(listener: Listener<CacheKeyEvent>): Disposable;
  onMiss(listener: Listener<CacheKeyEvent>): Disposable;
  onStale(listener: Listener<CacheStaleEvent>): Disposable;
  onLoad(listener: Listener<CacheLoadEvent>): Disposable;
  onCoalesce(listener: Listener<CacheKeyEvent>): Disposable;
  /** The store (or lock) failed: the call went on without it. */
  onStoreError(listener: Listener<CacheStoreErrorEvent>): Disposable;
}

const KNOWN = [
  'name',
  'store',
  'ttlMs',
  'staleWhileRevalidateMs',
  'staleIfErrorMs',
  'jitter',
  'earlyRefresh',
  'negativeTtlMs',
  'isNegative',
  'lock',
  'loadTimeoutMs',
  'tags',
  'maxKeyBytes',
  'clock',
  'random',
] as const;

type Runner = (ctx: ExecutionContext) => Promise<unknown>;
const defaultIsNegative = (value: unknown): boolean => value === undefined || value === null;
const isPromise = (x: unknown): x is Promise<unknown> =>
  typeof (x as { then?: unknown } | null)?.then === 'function';

/** An entry as `cache` wrote it; anything else found in a store is treated as a miss. */
function isEntry(x: unknown): x is CacheEntry {
  if (typeof x !== 'object' || x === null) return false;
  const e = x as Record<string, unknown>;
  return (
    'value' in e &&
    typeof e.createdAt === 'number' &&
    typeof e.freshUntil === 'number' &&
    typeof e.staleUntil === 'number' &&
    typeof e.loadMs === 'number' &&
    Array.isArray(e.tags) &&
    typeof e.negative === 'boolean'
  );
}

/** Refuses keys a store could not hold safely: not a string, empty, or over `maxBytes` UTF-8 bytes. */
export function checkCacheKey(
  where: string,
  key: unknown,
  maxBytes: number,
): TypeError | RangeError | undefined {
  if (typeof key !== 'string') return new TypeError(`${where}: a key must be a string, got ${typeof key}`);
  if (key.length === 0) return new RangeError(`${where}: a key must not be empty`);
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (key.length * 3 > maxBytes && Buffer.byteLength(key) > maxBytes) {
    return new RangeError(
      `${where}: a key must be at most ${maxBytes} bytes (UTF-8), got ${Buffer.byteLength(key)}`,
    );
  }
  return undefined;
}

/**
 * Caches the results of calls by `options.key`: one load per key at a time in this process (and
 * across processes with a `lock`), stale-while-revalidate, stale-if-error, TTL jitter, XFetch early
 * refresh and negative caching. A load runs in a context of its own with `loadTimeoutMs`, so a caller
 * that gives up leaves it running for the others.
 */
export function cache<T = unknown>(options: CacheOptions<T>): CachePolicy {
  checkOptions('cache', options, KNOWN);
  const d = CACHE_DEFAULTS;
  const name = nameOption('cache', options.name, d.name);
  const store = storeOption(options.store);
  const ttlMs = positiveFinite('cache', 'ttlMs', options.ttlMs);
  const swrMs = finiteNumber(
    'cache',
    'staleWhileRevalidateMs',
    given(options.staleWhileRevalidateMs, d.staleWhileRevalidateMs),
  );
  const sieMs = finiteNumber('cache', 'staleIfErrorMs', given(options.staleIfErrorMs, d.staleIfErrorMs));
  const jitter = finiteNumber('cache', 'jitter', given(options.jitter, d.jitter));
  if (jitter >= 1) throw optionError('cache', 'jitter', 'a number in [0, 1)', jitter, 'range');
  const beta = earlyRefreshOption(options.earlyRefresh);
  const negativeTtlMs =
    options.negativeTtlMs === undefined
      ? undefined
      : positiveFinite('cache', 'negativeTtlMs', options.negativeTtlMs);
  const isNegative =
    options.isNegative === undefined
      ? defaultIsNegative
      : func<(value: unknown) => boolean>('cache', 'isNegative', options.isNegative);
  const lock = lockOption(options.lock);
  const loadTimeoutMs = positiveFinite(
    'cache',
    'loadTimeoutMs',
    given(options.loadTimeoutMs, d.loadTimeoutMs),
  );
  const tags = tagsOption(options.tags);
  const maxKeyBytes = integer('cache', 'maxKeyBytes', given(options.maxKeyBytes, d.maxKeyBytes), 1);
  const clock = clockOption('cache', options.clock, systemClock);
  const random = randomOption('cache', options.random, systemRandom);
  const staleMs = Math.max(swrMs, sieMs);

  const hitEvent = new EventSlot<CacheKeyEvent>('cache', 'hit');
  const missEvent = new EventSlot<CacheKeyEvent>('cache', 'miss');
  const staleEvent = new EventSlot<CacheStaleEvent>('cache', 'stale');
  const loadEvent = new EventSlot<CacheLoadEvent>('cache', 'load');
  const coalesceEvent = new EventSlot<CacheKeyEvent>('cache', 'coalesce');
  const storeErrorEvent = new EventSlot<CacheStoreErrorEvent>('cache', 'store-error');
  const inflight = new Map<string, Promise<unknown>>();

  function storeError(
    operation: CacheStoreErrorEvent['operation'],
    key: string | undefined,
    error: unknown,
    pipeline?: string,
  ): void {
    if (storeErrorEvent.active)
      storeErrorEvent.emit({ event: 'store-error', name, pipeline, key, operation, error });
  }

  /** Reads an entry; a failing store or a foreign record is reported and read as a miss. */
  function read(
    key: string,
    pipeline: string | undefined,
  ): CacheEntry | undefined | Promise<CacheEntry | undefined> {
    const checked = (raw: unknown): CacheEntry | undefined => {
      if (raw === undefined || raw === null) return undefined;
      if (isEntry(raw)) return raw;
      storeError(
        'get',
        key,
        new TypeError(`cache "${name}": the store held something that is not a cache entry`),
        pipeline,
      );
      return undefined;
    };
    let raw: unknown;
    try {
      raw = store.get(key);
    } catch (error) {
      storeError('get', key, error, pipeline);
      return undefined;
    }
    if (!isPromise(raw)) return checked(raw);
    return raw.then(checked, (error: unknown) => {
      storeError('get', key, error, pipeline);
      return undefined;
    });
  }

  async function write(key: string, entry: CacheEntry, pipeline: string | undefined): Promise<void> {
    try {
      await store.set(key, entry);
    } catch (error) {
      storeError('set', key, error, pipeline);
    }
  }

  function makeEntry(
    key: string,
    value: unknown,
    loadMs: number,
    control: CacheControl | CacheSetOptions,
    fence: number | undefined,
  ): CacheEntry | undefined {
    const negative = isNegative(value);
    if (negative && negativeTtlMs === undefined) return undefined;
    let ttl = negative ? negativeTtlMs! : control.ttlMs === undefined ? ttlMs : checkTtl(control.ttlMs);
    if (jitter > 0) ttl *= 1 + jitter * (2 * random() - 1);
    const now = clock.now();
    const freshUntil = now + ttl;
    const entryTags = control.tags ?? (typeof tags === 'function' ? tags(key, value) : tags);
    return {
      value,
      createdAt: now,
      freshUntil,
      staleUntil: freshUntil + (negative ? 0 : staleMs),
      loadMs,
      tags: checkTags(entryTags),
      negative,
      fence,
    };
  }

  /** Runs the rest of the pipeline in a context of its own, aborted only by `loadTimeoutMs`. */
  function runLoad(
    ctx: ExecutionContext,
    next: Runner,
    key: string,
    control: CacheControl,
  ): Promise<unknown> {
    const root = new ExecutionContext(
      ctx.fn,
      {
        key,
        priority: ctx.priority,
        idempotencyKey: ctx.idempotencyKey,
        fingerprint: ctx.fingerprint,
        idempotent: ctx.idempotent,
      },
      ctx.pipeline,
    );
    const loadCtx = root.fork();
    loadCtx.cache = control;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimeout(() => {
        const error = new TimeoutError(loadTimeoutMs, { policy: name });
        loadCtx.abort(error);
        reject(error);
      }, loadTimeoutMs);
      let started: Promise<unknown>;
      try {
        started = next(loadCtx);
      } catch (error) {
        started = Promise.reject(error);
      }
      started.then(
        (value) => {
          clock.clearTimeout(timer);
          loadCtx.release();
          resolve(value);
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          loadCtx.release();
          reject(error);
        },
      );
    });
  }

  async function acquire(key: string, pipeline: string | undefined): Promise<Lock | undefined> {
    try {
      return await lock!.acquire(key, { leaseMs: loadTimeoutMs, waitMs: loadTimeoutMs });
    } catch (error) {
      storeError('lock', key, error, pipeline);
      return undefined;
    }
  }

  async function load(
    ctx: ExecutionContext,
    next: Runner,
    key: string,
    background: boolean,
  ): Promise<unknown> {
    let held: Lock | undefined;
    if (lock !== undefined) {
      held = await acquire(key, ctx.pipeline);
      // Whether or not the lock came, another process may have filled the entry while this one waited.
      const again = await read(key, ctx.pipeline);
      if (again !== undefined && clock.now() < again.freshUntil) {
        void held?.release().catch((error: unknown) => storeError('lock', key, error, ctx.pipeline));
        return again.value;
      }
    }
    const control: CacheControl = {};
    const started = clock.now();
    try {
      const value = await runLoad(ctx, next, key, control);
      const loadMs = clock.now() - started;
      if (loadEvent.active)
        loadEvent.emit({ event: 'load', name, pipeline: ctx.pipeline, key, durationMs: loadMs, background });
      const entry = makeEntry(key, value, loadMs, control, held?.token);
      if (entry !== undefined) await write(key, entry, ctx.pipeline);
      return value;
    } catch (error) {
      if (loadEvent.active) {
        loadEvent.emit({
          event: 'load',
          name,
          pipeline: ctx.pipeline,
          key,
          durationMs: clock.now() - started,
          background,
          error,
        });
      }
      throw error;
    } finally {
      if (held !== undefined)
        void held.release().catch((error: unknown) => storeError('lock', key, error, ctx.pipeline));
    }
  }

  /** One load per key in this process: later callers share the one under way. */
  function shared(ctx: ExecutionContext, next: Runner, key: string, background: boolean): Promise<unknown> {
    const existing = inflight.get(key);
    if (existing !== undefined) {
      if (coalesceEvent.active) coalesceEvent.emit({ event: 'coalesce', name, pipeline: ctx.pipeline, key });
      return existing;
    }
    const loading = load(ctx, next, key, background);
    inflight.set(key, loading);
    const done = (): void => {
      if (inflight.get(key) === loading) inflight.delete(key);
    };
    loading.then(done, done);
    return loading;
  }

  const ignore = (): void => {};

  /** The caller waits for the shared load, but stops waiting (and only waiting) when its own scope aborts. */
  function waitFor(ctx: ExecutionContext, loading: Promise<unknown>): Promise<unknown> {
    if (ctx.aborted) {
      loading.then(ignore, ignore);
      return Promise.reject(ctx.abortReason);
    }
    return new Promise((resolve, reject) => {
      const unsubscribe = ctx.onAbort(reject);
      loading.then(
        (value) => {
          unsubscribe();
          resolve(value);
        },
        (error: unknown) => {
          unsubscribe();
          reject(error);
        },
      );
    });
  }

  function answer(
    ctx: ExecutionContext,
    next: Runner,
    key: string,
    entry: CacheEntry | undefined,
  ): Promise<unknown> {
    const now = clock.now();
    if (entry !== undefined) {
      if (now < entry.freshUntil) {
        if (hitEvent.active) hitEvent.emit({ event: 'hit', name, pipeline: ctx.pipeline, key });
        // XFetch: the closer the expiry and the slower the load, the likelier an early refresh.
        if (beta !== undefined && now - entry.loadMs * beta * Math.log(random()) >= entry.freshUntil) {
          shared(ctx, next, key, true).then(ignore, ignore);
        }
        return Promise.resolve(entry.value);
      }
      if (now < entry.freshUntil + swrMs) {
        if (staleEvent.active)
          staleEvent.emit({ event: 'stale', name, pipeline: ctx.pipeline, key, reason: 'revalidating' });
        shared(ctx, next, key, true).then(ignore, ignore);
        return Promise.resolve(entry.value);
      }
    }
    if (missEvent.active) missEvent.emit({ event: 'miss', name, pipeline: ctx.pipeline, key });
    const loading = shared(ctx, next, key, false);
    if (entry === undefined || !(now < entry.freshUntil + sieMs)) return waitFor(ctx, loading);
    const fallback = entry;
    return waitFor(
      ctx,
      loading.catch((error: unknown) => {
        if (!(clock.now() < fallback.freshUntil + sieMs)) throw error;
        if (staleEvent.active)
          staleEvent.emit({ event: 'stale', name, pipeline: ctx.pipeline, key, reason: 'load-failed' });
        return fallback.value;
      }),
    );
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    const key = ctx.key;
    if (key === undefined) return next(ctx);
    const bad = checkCacheKey(`cache "${name}"`, key, maxKeyBytes);
    if (bad !== undefined) return Promise.reject(bad);
    const entry = read(key, ctx.pipeline);
    if (isPromise(entry)) return entry.then((found) => answer(ctx, next, key, found));
    return answer(ctx, next, key, entry);
  }

  const keyed = (key: string): string => {
    const bad = checkCacheKey(`cache "${name}"`, key, maxKeyBytes);
    if (bad !== undefined) throw bad;
    return key;
  };

  return createPolicy<Omit<CachePolicy, keyof Policy>>(
    { name, kind: 'cache', run: run as never },
    {
      trusted: true,
      now: () => clock.now(),
      api: {
        async get(key: string): Promise<unknown> {
          const entry = await read(keyed(key), undefined);
          return entry !== undefined && clock.now() < entry.freshUntil + staleMs ? entry.value : undefined;
        },
        async set(key: string, value: unknown, setOptions: CacheSetOptions = {}): Promise<void> {
          const entry = makeEntry(keyed(key), value, 0, setOptions, undefined);
          if (entry !== undefined) await store.set(key, entry);
        },
        async delete(key: string): Promise<void> {
          await store.delete(keyed(key));
        },
        async invalidateTag(tag: string): Promise<void> {
          if (typeof tag !== 'string' || tag === '')
            throw new TypeError(`cache "${name}": a tag must be a non-empty string`);
          await store.invalidateTag(tag);
        },
        get loading(): number {
          return inflight.size;
        },
        onHit: (listener: Listener<CacheKeyEvent>) => hitEvent.on(listener),
        onMiss: (listener: Listener<CacheKeyEvent>) => missEvent.on(listener),
        onStale: (listener: Listener<CacheStaleEvent>) => staleEvent.on(listener),
        onLoad: (listener: Listener<CacheLoadEvent>) => loadEvent.on(listener),
        onCoalesce: (listener: Listener<CacheKeyEvent>) => coalesceEvent.on(listener),
        onStoreError: (listener: Listener<CacheStoreErrorEvent>) => storeErrorEvent.on(listener),
      },
    },
  );
}

const storeOption = (value: unknown): CacheStore =>
  withMethods(
    'cache',
    'store',
    value,
    ['get', 'set', 'delete', 'invalidateTag'],
    'a CacheStore (memoryCacheStore(), or { get, set, delete, invalidateTag })',
  );

function lockOption(value: unknown): LockProvider | undefined {
  if (value === undefined) return undefined;
  return withMethods(
    'cache',
    'lock',
    value,
    ['acquire'],
    'a LockProvider (memoryLocks(), redisLocks(…), or { acquire })',
  );
}

function earlyRefreshOption(value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return CACHE_DEFAULTS.beta;
  if (typeof value !== 'object' || value === null) {
    throw optionError('cache', 'earlyRefresh', 'a boolean or { beta }', value);
  }
  checkOptions('cache.earlyRefresh', value, ['beta']);
  const beta = (value as { beta?: unknown }).beta;
  return beta === undefined ? CACHE_DEFAULTS.beta : positiveFinite('cache.earlyRefresh', 'beta', beta);
}

function tagsOption(
  value: unknown,
): readonly string[] | ((key: string, value: unknown) => readonly string[]) {
  if (value === undefined) return [];
  if (typeof value === 'function') return value as (key: string, value: unknown) => readonly string[];
  return checkTags(value, 'cache: option "tags"');
}

function checkTags(value: unknown, where = 'cache: tags'): readonly string[] {
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string' && t !== '')) {
    throw new TypeError(`${where} must be an array of non-empty strings`);
  }
  return value as readonly string[];
}

function checkTtl(value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `cache: ctx.cache.ttlMs must be a positive, finite number of ms, got ${String(value)}`,
    );
  }
  return value;
}
