import { randomUUID } from 'node:crypto';
import type { ExecuteOptions, Policy } from '@breakwater/core';
import { parseRetryAfter, ResponseError } from './response-error.js';

type FetchFn = typeof globalThis.fetch;

/** Per-call options for the pipeline, given as `init.breakwater`. */
export type BreakwaterFetchOptions = Omit<ExecuteOptions, 'signal'>;

export interface BreakwaterRequestInit extends RequestInit {
  breakwater?: BreakwaterFetchOptions;
}

export type ResilientFetch = (
  input: string | URL | Request,
  init?: BreakwaterRequestInit,
) => Promise<Response>;

export type IdempotencyKeys = 'off' | 'auto';

export interface CreateFetchOptions {
  /** The pipeline every request runs through (a fallback in it must answer with a Response). */
  policy: Policy<Response>;
  /** The fetch to call. @default globalThis.fetch, looked up on each call */
  fetch?: FetchFn;
  /** Which statuses count as failures. @default 408, 429 and 5xx */
  isFailureStatus?: (status: number) => boolean;
  /** Time source for Retry-After dates. @default Date.now */
  now?: () => number;
  /**
   * `'auto'`: every POST or PATCH sent without an Idempotency-Key gets a fresh one (a UUID, the same
   * across that request's retries), so it may be repeated. Only safe against a server that honours
   * the header. @default 'off'
   */
  idempotencyKeys?: IdempotencyKeys;
}

const KNOWN = ['policy', 'fetch', 'isFailureStatus', 'now', 'idempotencyKeys'];
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const AUTO_KEY_METHODS = new Set(['POST', 'PATCH']);

export const CREATE_FETCH_DEFAULTS = Object.freeze({
  isFailureStatus: (status: number): boolean => status === 408 || status === 429 || status >= 500,
  idempotencyKeys: 'off' as IdempotencyKeys,
});

/** Bodies fetch can send again: everything but streams and (async) iterables. */
function isReplayable(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof URLSearchParams ||
    body instanceof FormData
  );
}

/** Lets go of a response we will not return, so its socket goes back to the pool or is closed. */
function discard(response: Response): void {
  if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {});
}

function fail(option: string, expected: string, given: unknown): TypeError {
  return new TypeError(
    `createFetch: option "${option}" must be ${expected}, got ${given === null ? 'null' : typeof given}`,
  );
}

/**
 * The Idempotency-Key header is a Structured Field string (draft-ietf-httpapi-idempotency-key-header):
 * printable ASCII in double quotes, with `"` and `\` escaped.
 */
function toSfString(key: string): string {
  if (!/^[\x20-\x7e]*$/.test(key)) {
    throw new TypeError(
      `createFetch: an idempotency key must be printable ASCII, got ${JSON.stringify(key)}`,
    );
  }
  return `"${key.replace(/[\\"]/g, '\\$&')}"`;
}

/** The key a header carries: the sf-string's content, or a bare token as it is. */
function fromHeader(value: string): string {
  const trimmed = value.trim();
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(trimmed);
  return quoted === null ? trimmed : quoted[1]!.replace(/\\(.)/g, '$1');
}

/**
 * A fetch that runs every request through `policy`. Failure statuses become `ResponseError`
 * inside the pipeline and come back as the last response at the edge; only idempotent requests
 * (by method, an Idempotency-Key, or `init.breakwater.idempotent: true`) with a replayable body
 * are repeated.
 */
export function createFetch(options: CreateFetchOptions): ResilientFetch {
  if (typeof options !== 'object' || options === null) throw fail('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN.includes(key)) {
      throw new TypeError(`createFetch: unknown option "${key}"; known options are ${KNOWN.join(', ')}`);
    }
  }
  const {
    policy,
    fetch: givenFetch,
    isFailureStatus = CREATE_FETCH_DEFAULTS.isFailureStatus,
    now = Date.now,
    idempotencyKeys = CREATE_FETCH_DEFAULTS.idempotencyKeys,
  } = options;
  if (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function') {
    throw fail('policy', 'a Breakwater policy', policy);
  }
  if (givenFetch !== undefined && typeof givenFetch !== 'function')
    throw fail('fetch', 'a function', givenFetch);
  if (typeof isFailureStatus !== 'function') throw fail('isFailureStatus', 'a function', isFailureStatus);
  if (typeof now !== 'function') throw fail('now', 'a function', now);
  if (idempotencyKeys !== 'off' && idempotencyKeys !== 'auto') {
    throw new TypeError(
      `createFetch: option "idempotencyKeys" must be one of 'off', 'auto', got ${JSON.stringify(idempotencyKeys)}`,
    );
  }

  return async function resilientFetch(input, init) {
    const fetchImpl = givenFetch ?? globalThis.fetch;
    const request = input instanceof Request ? input : undefined;
    const { breakwater, ...requestInit } = init ?? {};
    if (breakwater !== undefined && (typeof breakwater !== 'object' || breakwater === null)) {
      throw new TypeError('createFetch: init.breakwater must be an object of per-call pipeline options');
    }
    const method = (requestInit.method ?? request?.method ?? 'GET').toUpperCase();
    const headerValue = new Headers(requestInit.headers ?? request?.headers).get('idempotency-key');
    let idempotencyKey = headerValue === null ? undefined : fromHeader(headerValue);
    let sendKey: string | undefined;
    const askedKey = breakwater?.idempotencyKey;
    if (askedKey !== undefined) {
      if (typeof askedKey !== 'string' || askedKey === '') {
        throw new TypeError('createFetch: init.breakwater.idempotencyKey must be a non-empty string');
      }
      if (idempotencyKey !== undefined && idempotencyKey !== askedKey) {
        throw new TypeError(
          'createFetch: the request has an Idempotency-Key header and init.breakwater.idempotencyKey differs from it',
        );
      }
      if (idempotencyKey === undefined) sendKey = idempotencyKey = askedKey;
    } else if (idempotencyKey === undefined && idempotencyKeys === 'auto' && AUTO_KEY_METHODS.has(method)) {
      sendKey = idempotencyKey = randomUUID();
    }
    if (sendKey !== undefined) {
      const headers = new Headers(requestInit.headers ?? request?.headers);
      headers.set('idempotency-key', toSfString(sendKey));
      requestInit.headers = headers;
    }
    // `body: undefined` (or null) in init means the Request's own body, as fetch reads it.
    const body = requestInit.body ?? request?.body;
    const idempotent =
      breakwater?.idempotent ?? (IDEMPOTENT_METHODS.has(method) || idempotencyKey !== undefined);
    const repeatable = idempotent && isReplayable(body);
    const callerSignal = requestInit.signal ?? request?.signal ?? undefined;

    let held: Response | undefined;
    let settled = false;
    const attempt = async (signal: AbortSignal): Promise<Response> => {
      if (held !== undefined) {
        discard(held);
        held = undefined;
      }
      const response = await fetchImpl(input, { ...requestInit, signal });
      if (settled) {
        // The call already ended (an aggressive timeout, a caller abort): nobody will read this one.
        discard(response);
        return response;
      }
      if (!isFailureStatus(response.status)) return response;
      held = response;
      throw new ResponseError(response, parseRetryAfter(response.headers.get('retry-after'), now()));
    };

    try {
      return await policy.execute((ctx) => attempt(ctx.signal), {
        ...breakwater,
        idempotencyKey,
        idempotent: repeatable,
        signal: callerSignal,
      });
    } catch (error) {
      if (held !== undefined && error instanceof ResponseError && error.response === held) return held;
      if (held !== undefined) discard(held);
      throw error;
    } finally {
      settled = true;
    }
  };
}
