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

export interface CreateFetchOptions {
  /** The pipeline every request runs through. */
  policy: Policy;
  /** The fetch to call. @default globalThis.fetch, looked up on each call */
  fetch?: FetchFn;
  /** Which statuses count as failures. @default 408, 429 and 5xx */
  isFailureStatus?: (status: number) => boolean;
  /** Time source for Retry-After dates. @default Date.now */
  now?: () => number;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export const CREATE_FETCH_DEFAULTS = Object.freeze({
  isFailureStatus: (status: number): boolean => status === 408 || status === 429 || status >= 500,
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
 * A fetch that runs every request through `policy`. Failure statuses become `ResponseError`
 * inside the pipeline and come back as the last response at the edge; only idempotent requests
 * (by method or an Idempotency-Key header) with a replayable body are repeated.
 */
export function createFetch(options: CreateFetchOptions): ResilientFetch {
  if (typeof options !== 'object' || options === null) throw fail('options', 'an object', options);
  const {
    policy,
    fetch: givenFetch,
    isFailureStatus = CREATE_FETCH_DEFAULTS.isFailureStatus,
    now = Date.now,
  } = options;
  if (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function') {
    throw fail('policy', 'a Breakwater policy', policy);
  }
  if (givenFetch !== undefined && typeof givenFetch !== 'function')
    throw fail('fetch', 'a function', givenFetch);
  if (typeof isFailureStatus !== 'function') throw fail('isFailureStatus', 'a function', isFailureStatus);
  if (typeof now !== 'function') throw fail('now', 'a function', now);

  return async function resilientFetch(input, init) {
    const fetchImpl = givenFetch ?? globalThis.fetch;
    const request = input instanceof Request ? input : undefined;
    const { breakwater, ...requestInit } = init ?? {};
    const method = (requestInit.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(requestInit.headers ?? request?.headers);
    const idempotencyKey = headers.get('idempotency-key') ?? undefined;
    const body = 'body' in requestInit ? requestInit.body : request?.body;
    const repeatable = (IDEMPOTENT_METHODS.has(method) || idempotencyKey !== undefined) && isReplayable(body);
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
        idempotencyKey,
        ...breakwater,
        idempotent: repeatable && breakwater?.idempotent !== false,
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
