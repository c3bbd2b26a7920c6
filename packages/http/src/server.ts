// What both server adapters do with a request, once: read its deadline, run it through
// load shed → rate limit → bulkhead → timeout, give the handler a signal that aborts when the client
// goes away or the deadline passes, and turn a refusal into its response. The adapters only wire this
// to their request and response objects.

import type { BulkheadOptions, LoadShedOptions, RateLimitedError, RateLimitQuota } from '@breakwater/core';
import {
  bulkhead,
  compose,
  type Limiter,
  loadShed,
  type Policy,
  type Priority,
  rateLimit,
  timeout,
} from '@breakwater/core';
import { type CachePlan, ClientGoneError, cachePlan, type HttpCacheOptions } from './cached-responses.js';
import { DEADLINE_HEADER, readDeadline } from './headers.js';
import {
  type HttpIdempotencyOptions,
  type IdempotencyPlan,
  idempotencyPlan,
} from './idempotent-responses.js';
import type { KeyFunction, RequestLike } from './keys.js';
import { type ErrorResponse, errorResponse } from './problem.js';
import { RATE_LIMIT_DRAFTS, type RateLimitDraft, rateLimitHeaders } from './rate-limit-headers.js';
import { REPLAYED_HEADERS } from './stored-response.js';

export interface ServerOptions {
  /** The route's time: ms, or `{ ms, gateway }` (a timeout answers 504 instead of 503 with `gateway: true`). */
  timeout?: number | { ms: number; gateway?: boolean };
  /** A `loadShed` policy, or its options. */
  loadShed?: Policy | LoadShedOptions;
  /**
   * A limiter for every request (`limits.tokenBucket`, `redisRateLimiter`, `bottleneckLimiter`); with
   * `key`, each key gets `forKey(key)` of a limiter that has it. `standardHeaders` is the form of the
   * `RateLimit` headers sent on every response the limit covers (`false`: none); `name` is the
   * quota policy's name in them.
   */
  rateLimit?: RateLimitServerOptions;
  /** A `bulkhead` policy, or its options. */
  bulkhead?: Policy | BulkheadOptions;
  /** The remaining-deadline header read on the way in, capped by `timeout`. `false` ignores it. @default { header: 'x-request-timeout-ms' } */
  deadline?: { header?: string } | false;
  /** The client or tenant key of a request (`keys.ip()`, `keys.header(…)`, your own). */
  key?: KeyFunction;
  /** The priority of a request for `loadShed`. @default 'default' */
  priority?: (request: RequestLike) => Priority;
  /** Idempotency-Key handling for unsafe methods: stored responses replayed, scoped by `key`. */
  idempotency?: HttpIdempotencyOptions;
  /** GET responses kept and served by a key (one handler run per key at a time). */
  cache?: HttpCacheOptions;
}

export interface RateLimitServerOptions {
  limiter: Limiter & { forKey?: (key: string) => Limiter };
  /** Units a request takes. @default 1 */
  cost?: number;
  /** @default 'draft-8' */
  standardHeaders?: RateLimitDraft | false;
  /** The quota policy's name in draft 8's headers. @default 'default' */
  name?: string;
}

export interface ServerRequest extends RequestLike {
  method: string;
}

/** What the handler gets: `request.breakwater` in both adapters. */
export interface RequestBreakwater {
  /** Aborts when the client goes away, the deadline passes or the route's timeout fires. */
  signal: AbortSignal;
  /** Epoch ms by which the answer is due, or `undefined`. */
  deadline: number | undefined;
  /** The request's key, from `options.key`. */
  key: string | undefined;
}

export interface Admitted extends RequestBreakwater {
  /** Headers every response to the request carries (`RateLimit`, `RateLimit-Policy`). */
  headers: Record<string, string> | undefined;
  /** Tell the pipeline the response is done (finished or closed): frees the request's slots. */
  finish(): void;
  /**
   * Registers what to do with a refusal that comes after admission (the timeout firing while the
   * handler runs): it is called at once, before the handler's own abort listeners, so the refusal is
   * answered before a handler that stops on its signal writes anything.
   */
  onLateRefusal(send: (response: ErrorResponse) => void): void;
}

/** A request the pipeline refused before the handler ran. */
export class Refusal extends Error {
  constructor(readonly response: ErrorResponse) {
    super(response.body.title);
  }
}

const OPTIONS = [
  'timeout',
  'loadShed',
  'rateLimit',
  'bulkhead',
  'deadline',
  'key',
  'priority',
  'idempotency',
  'cache',
] as const;
const isPolicy = (x: unknown): x is Policy => typeof (x as Policy | undefined)?.execute === 'function';

/** The client's side of a request, as the adapter sees it. */
export interface ClientConnection {
  /** The client went away before the response finished. */
  readonly gone: boolean;
  /** Calls `listener` once, when the client goes away (never when the response finishes). */
  onGone(listener: () => void): void;
}

/** Watches a Node response: the client is gone when it closes before it finished. */
export function watchClient(res: {
  once(event: 'close', listener: () => void): unknown;
  readonly writableFinished: boolean;
}): ClientConnection {
  return new ClientWatch(res);
}

// Classes rather than object literals with getters: V8 makes each such literal slowly (~350 ns) and
// in dictionary mode, which the garbage collector then pays for on every request.
class ClientWatch implements ClientConnection {
  gone = false;
  #listeners: (() => void)[] | undefined = undefined;
  constructor(res: {
    once(event: 'close', listener: () => void): unknown;
    readonly writableFinished: boolean;
  }) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.gone = true;
      if (this.#listeners !== undefined) for (const listener of this.#listeners) listener();
    });
  }
  onGone(listener: () => void): void {
    if (this.gone) listener();
    else if (this.#listeners === undefined) this.#listeners = [listener];
    else this.#listeners.push(listener);
  }
}

/**
 * An admitted request. Its signal is made on first read (an AbortSignal with a listener costs ~3 µs
 * on Node 20): it aborts when the client goes away or, given the call's context, when that context's
 * signal aborts (the timeout, the deadline), the late refusal being sent before the handler hears of it.
 */
class AdmittedRequest implements Admitted {
  #controller: AbortController | undefined = undefined;
  #lateSend: ((response: ErrorResponse) => void) | undefined = undefined;
  #lateResponse: ErrorResponse | undefined = undefined;
  readonly #client: ClientConnection;
  readonly #ctx: { readonly signal: AbortSignal } | undefined;
  readonly #gateway: boolean;
  constructor(
    client: ClientConnection,
    readonly deadline: number | undefined,
    readonly key: string | undefined,
    readonly headers: Record<string, string> | undefined,
    ctx: { readonly signal: AbortSignal } | undefined,
    gateway: boolean,
    readonly finish: () => void,
  ) {
    this.#client = client;
    this.#ctx = ctx;
    this.#gateway = gateway;
  }
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal;
    const made = new AbortController();
    this.#controller = made;
    this.#client.onGone(() => made.abort(new ClientGoneError()));
    const ctx = this.#ctx;
    if (ctx !== undefined) {
      const source = ctx.signal;
      const relay = () => {
        if (!this.#client.gone) this.late(errorResponse(source.reason, { gateway: this.#gateway }));
        made.abort(source.reason);
      };
      if (source.aborted) relay();
      else source.addEventListener('abort', relay, { once: true });
    }
    return made.signal;
  }
  /** A refusal after admission (the timeout): sent once, at once if the adapter listens already. */
  late(response: ErrorResponse | undefined): void {
    if (response === undefined || this.#lateResponse !== undefined) return;
    this.#lateResponse = response;
    this.#lateSend?.(response);
  }
  onLateRefusal(send: (response: ErrorResponse) => void): void {
    this.#lateSend = send;
    if (this.#lateResponse !== undefined) send(this.#lateResponse);
  }
}

const NOTHING = () => undefined;

export interface ServerPlan {
  /** Runs the request into the pipeline: resolves when the handler may run, rejects with a `Refusal` (or the error) when not. */
  admit(request: ServerRequest, client: ClientConnection): Promise<Admitted>;
  /** The Idempotency-Key handling, when configured. */
  readonly idempotency: IdempotencyPlan | undefined;
  /** The response cache, when configured. */
  readonly cache: CachePlan | undefined;
  /** Response headers kept with a captured body (for replays and cache hits). */
  readonly storedHeaders: readonly string[];
}

export function serverPlan(adapter: string, options: ServerOptions = {}): ServerPlan {
  if (typeof options !== 'object' || options === null)
    throw new TypeError(`${adapter}: options must be an object`);
  for (const name of Object.keys(options)) {
    if (!(OPTIONS as readonly string[]).includes(name)) {
      throw new TypeError(`${adapter}: unknown option "${name}" (known: ${OPTIONS.join(', ')})`);
    }
  }
  const t = options.timeout;
  const timeoutMs = typeof t === 'number' ? t : t?.ms;
  const gateway = typeof t === 'object' && t?.gateway === true;
  if (t !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
    throw new TypeError(`${adapter}: option "timeout" must be a positive number of ms or { ms, gateway }`);
  }
  const deadlineHeader =
    options.deadline === false ? undefined : (options.deadline?.header ?? DEADLINE_HEADER).toLowerCase();
  const key = options.key;
  if (key !== undefined && typeof key !== 'function')
    throw new TypeError(`${adapter}: option "key" must be a function of the request`);
  const priorityOf = options.priority;
  /** A policy given as is, or made from its options. */
  const policyOf = <O>(given: Policy | O | undefined, make: (options: O) => Policy): Policy | undefined =>
    given === undefined ? undefined : isPolicy(given) ? given : make(given);
  const shed = policyOf(options.loadShed, loadShed);
  const pool = policyOf(options.bulkhead, bulkhead);
  const limiter = options.rateLimit?.limiter;
  const cost = options.rateLimit?.cost;
  if (options.rateLimit !== undefined) {
    if (typeof limiter?.tryAcquire !== 'function') {
      throw new TypeError(
        `${adapter}: option "rateLimit.limiter" must be a Limiter (limits.tokenBucket(…), redisRateLimiter(…))`,
      );
    }
    for (const name of Object.keys(options.rateLimit)) {
      if (!['limiter', 'cost', 'standardHeaders', 'name'].includes(name))
        throw new TypeError(`${adapter}: unknown option "rateLimit.${name}"`);
    }
  }
  const draft = options.rateLimit?.standardHeaders ?? 'draft-8';
  if (draft !== false && !RATE_LIMIT_DRAFTS.includes(draft)) {
    throw new TypeError(
      `${adapter}: option "rateLimit.standardHeaders" must be ${RATE_LIMIT_DRAFTS.map((d) => `'${d}'`).join(', ')} or false`,
    );
  }
  const quotaName = options.rateLimit?.name ?? 'default';
  if (typeof quotaName !== 'string' || quotaName === '')
    throw new TypeError(`${adapter}: option "rateLimit.name" must be a non-empty string`);
  const quotaHeaders = (quota: RateLimitQuota | undefined, requestKey: string | undefined) =>
    quota === undefined || draft === false
      ? undefined
      : rateLimitHeaders(
          {
            limit: quota.limit,
            remaining: quota.remaining,
            resetMs: quota.resetMs,
            windowMs: quota.windowMs,
            name: quotaName,
            ...(requestKey === undefined ? {} : { key: requestKey }),
          },
          draft,
        );
  const limitOf = (l: Limiter) => rateLimit({ limiter: l, ...(cost === undefined ? {} : { cost }) });
  // A deadline from the header is enforced by a timeout layer even without a route timeout: a timeout
  // fires no later than the call's deadline.
  const tail =
    timeoutMs !== undefined
      ? timeout(timeoutMs)
      : deadlineHeader !== undefined
        ? timeout(86_400_000)
        : undefined;
  const pipelineOf = (limit: Policy | undefined): Policy | undefined => {
    // The order DESIGN.md gives: load shed → rate limit → bulkhead → timeout.
    const layers = [shed, limit, pool, tail].filter((p): p is Policy => p !== undefined);
    return layers.length === 0 ? undefined : layers.length === 1 ? layers[0]! : compose(...layers);
  };
  const shared = pipelineOf(limiter === undefined ? undefined : limitOf(limiter));
  // A pipeline per key for limiters that partition by key, the least recently used dropped past
  // 10,000 (a use moves a key to the end).
  const keyed = typeof limiter?.forKey === 'function' ? limiter : undefined;
  const perKey = new Map<string, Policy | undefined>();
  const pipelineFor = (k: string | undefined): Policy | undefined => {
    if (keyed === undefined || k === undefined) return shared;
    let policy = perKey.get(k);
    if (policy === undefined) {
      if (perKey.size >= 10_000) perKey.delete(perKey.keys().next().value!);
      policy = pipelineOf(limitOf(keyed.forKey!(k)));
    } else perKey.delete(k);
    perKey.set(k, policy);
    return policy;
  };

  const idempotent =
    options.idempotency === undefined ? undefined : idempotencyPlan(adapter, options.idempotency);
  const cached = options.cache === undefined ? undefined : cachePlan(adapter, options.cache);
  const storedHeaders = [...new Set([...REPLAYED_HEADERS, ...(cached?.headers ?? [])])];
  // Startup warnings, coded: a setup that works but probably not as meant.
  const warn = (code: string, message: string) => process.emitWarning(`${adapter}: ${message}`, { code });
  if (limiter !== undefined && key !== undefined && typeof limiter.forKey !== 'function') {
    warn(
      'BW_RATE_LIMIT_NOT_KEYED',
      'rateLimit with a `key`, but the limiter has no forKey(): every key shares one limit',
    );
  }
  if (idempotent !== undefined && key === undefined) {
    warn(
      'BW_IDEMPOTENCY_UNSCOPED',
      "idempotency without a `key`: records are not scoped per tenant or client, so one client may replay another's response",
    );
  }
  return {
    idempotency: idempotent,
    cache: cached,
    storedHeaders,
    admit(request, client) {
      const now = Date.now();
      const requestKey = key?.(request);
      const headerDeadline =
        deadlineHeader === undefined
          ? undefined
          : readDeadline(request.headers[deadlineHeader] as string | undefined, now);
      const policy = pipelineFor(requestKey);
      return new Promise<Admitted>((admit, refuse) => {
        if (policy === undefined) {
          admit(
            new AdmittedRequest(client, headerDeadline, requestKey, undefined, undefined, gateway, NOTHING),
          );
          return;
        }
        let admitted: AdmittedRequest | undefined;
        // No caller signal for the pipeline: listening on an AbortSignal costs ~3 µs on Node 20, more than
        // the whole pipeline. A client gone while its request waits in a queue is let through at its
        // turn and finished at once, its handler never run.
        const call = policy.execute(
          (ctx) =>
            new Promise<void>((done) => {
              if (client.gone) {
                done();
                return;
              }
              admitted = new AdmittedRequest(
                client,
                ctx.deadline,
                requestKey,
                quotaHeaders(ctx.rateLimit, requestKey),
                ctx,
                gateway,
                () => done(),
              );
              admit(admitted);
            }),
          headerDeadline === undefined && priorityOf === undefined && requestKey === undefined
            ? undefined
            : {
                ...(headerDeadline === undefined ? {} : { deadline: headerDeadline }),
                ...(priorityOf === undefined ? {} : { priority: priorityOf(request) }),
                ...(requestKey === undefined ? {} : { key: requestKey }),
              },
        );
        call.then(
          () => {
            if (admitted === undefined && client.gone) refuse(new ClientGoneError());
          },
          (error: unknown) => {
            const response = client.gone ? undefined : errorResponse(error, { gateway });
            if (response?.body.code === 'BW_RATE_LIMITED') {
              Object.assign(response.headers, quotaHeaders((error as RateLimitedError).quota, requestKey));
            }
            if (admitted !== undefined) admitted.late(response);
            else refuse(response === undefined ? error : new Refusal(response));
          },
        );
      });
    },
  };
}

/** What the handler sees of an admitted request (`req.breakwater`): its signal is made on first read. */
export function handlerView(admitted: Admitted): RequestBreakwater {
  return new HandlerView(admitted);
}

class HandlerView implements RequestBreakwater {
  readonly #admitted: Admitted;
  readonly deadline: number | undefined;
  readonly key: string | undefined;
  constructor(admitted: Admitted) {
    this.#admitted = admitted;
    this.deadline = admitted.deadline;
    this.key = admitted.key;
  }
  get signal(): AbortSignal {
    return this.#admitted.signal;
  }
}
