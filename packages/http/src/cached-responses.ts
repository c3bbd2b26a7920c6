// Response caching at the HTTP layer, once for both adapters: which requests it covers, their key,
// which responses may be kept, and the run that serves a kept response or makes one. Concurrent
// requests for one key wait for a single handler run (core `cache`'s single flight).

import { type CacheOptions, type CacheStore, cache, type LockProvider } from '@breakwater/core';
import { listOption, methodsOption } from './options.js';
import { REPLAYED_HEADERS, type StoredResponse } from './stored-response.js';

export interface CacheableRequest {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  headers: Record<string, string | readonly string[] | undefined>;
  /** The request's key from the server options' `key` (tenant or client). */
  tenant: string | undefined;
}

export interface HttpCacheOptions {
  /** Where responses are kept: `memoryCacheStore()`, `redisCacheStore(…)`, `tieredCacheStore(…)`. Required. */
  store: CacheStore;
  /** How long a response is served from the cache. Required. */
  ttlMs: number;
  /**
   * The cache key of a request; `undefined` leaves it uncached. @default `${method} ${url}` for requests
   * without `Authorization` (a request with one is not cached unless this function says how).
   */
  key?: (request: CacheableRequest) => string | undefined;
  /** Methods cached. @default ['GET'] */
  methods?: readonly string[];
  /** Statuses kept. @default [200] */
  statuses?: readonly number[];
  /** Response headers kept with the body. @default REPLAYED_HEADERS (never `Set-Cookie`) */
  headers?: readonly string[];
  /** TTL jitter in [0, 1). @default 0 */
  jitter?: number;
  /** One handler run per key across processes (`redisLocks(…)`). @default one per process */
  lock?: LockProvider;
  /** Tags of each kept response, for `store.invalidateTag`. */
  tags?: CacheOptions<StoredResponse>['tags'];
  /** Name in events and telemetry. @default 'http-cache' */
  name?: string;
  /** @default 1_024 */
  maxKeyBytes?: number;
}

export type CacheDecision = { kind: 'skip' } | { kind: 'run'; key: string };

/** The header saying how the cache served a response (RFC 9211). */
export const CACHE_STATUS_HEADER = 'cache-status';
export const CACHE_HIT = 'breakwater; hit';
export const CACHE_MISS = 'breakwater; fwd=miss';

/** The handler's response was not made: its client went away (a waiter on it runs its own handler). */
export class ClientGoneError extends Error {
  constructor() {
    super('the client went away');
  }
}

const KNOWN = [
  'store',
  'ttlMs',
  'key',
  'methods',
  'statuses',
  'headers',
  'jitter',
  'lock',
  'tags',
  'name',
  'maxKeyBytes',
];

/** Whether a response may be kept and served to others (RFC 9111's rules for a shared cache, in short). */
function keepable(response: StoredResponse, statuses: ReadonlySet<number>): boolean {
  if (!statuses.has(response.status)) return false;
  if (response.setCookie) return false;
  const control = response.headers['cache-control']?.toLowerCase() ?? '';
  if (/(^|[\s,])(no-store|private|no-cache)([\s,=]|$)/.test(control)) return false;
  return response.headers.vary?.trim() !== '*';
}

export function cachePlan(adapter: string, options: HttpCacheOptions) {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${adapter}: option "cache" must be { store, ttlMs, … }`);
  for (const name of Object.keys(options)) {
    if (!KNOWN.includes(name)) throw new TypeError(`${adapter}: unknown option "cache.${name}"`);
  }
  const methods = methodsOption(adapter, 'cache.methods', options.methods ?? ['GET']);
  const statuses = new Set(
    listOption<number>(
      adapter,
      'cache.statuses',
      options.statuses ?? [200],
      (s) => Number.isInteger(s) && (s as number) >= 100 && (s as number) < 600,
      'statuses (100–599)',
    ),
  );
  const headers = listOption<string>(
    adapter,
    'cache.headers',
    options.headers ?? REPLAYED_HEADERS,
    (h) => typeof h === 'string' && h !== '',
    'header names',
  );
  const keyOf = options.key;
  if (keyOf !== undefined && typeof keyOf !== 'function')
    throw new TypeError(`${adapter}: option "cache.key" must be a function of the request`);
  const policy = cache<StoredResponse>({
    store: options.store,
    ttlMs: options.ttlMs,
    name: options.name ?? 'http-cache',
    // A response that may not be kept is "negative" and never stored; waiters on its run still get it.
    isNegative: (response) => !keepable(response, statuses),
    ...(options.jitter === undefined ? {} : { jitter: options.jitter }),
    ...(options.lock === undefined ? {} : { lock: options.lock }),
    ...(options.tags === undefined ? {} : { tags: options.tags }),
    ...(options.maxKeyBytes === undefined ? {} : { maxKeyBytes: options.maxKeyBytes }),
  });
  return {
    /** Response headers kept with a body. */
    headers,
    decide(request: CacheableRequest): CacheDecision {
      if (!methods.has(request.method.toUpperCase())) return { kind: 'skip' };
      let key: string | undefined;
      if (keyOf !== undefined) key = keyOf(request);
      else if (request.headers.authorization === undefined)
        key = `${request.method.toUpperCase()} ${request.url}`;
      return key === undefined || key === '' ? { kind: 'skip' } : { kind: 'run', key };
    },
    /**
     * Serves the response kept under the key, or runs `produce` (the handler, captured) once for every
     * request waiting on the key; `hit` is true when this request's handler did not run.
     */
    async run(
      decision: { key: string },
      produce: () => Promise<StoredResponse>,
    ): Promise<{ hit: boolean; response: StoredResponse }> {
      let produced = false;
      const make = () => {
        produced = true;
        return produce();
      };
      try {
        const response = (await policy.execute(make, { key: decision.key })) as StoredResponse;
        return { hit: !produced, response };
      } catch (error) {
        // The run this request waited on lost its client: this request runs its own handler.
        if (produced || !(error instanceof ClientGoneError)) throw error;
        return { hit: false, response: await make() };
      }
    },
  };
}

export type CachePlan = ReturnType<typeof cachePlan>;
