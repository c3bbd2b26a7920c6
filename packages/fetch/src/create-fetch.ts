import type { Policy } from '@breakwater/core';
import { DEADLINE_HEADER, formatDeadline, parseRetryAfter } from '@breakwater/http';
import {
  type BreakwaterFetchOptions,
  checkHttpRules,
  checkKnown,
  executeOptions,
  fail,
  type HttpRuleOptions,
  isFailureStatusDefault,
  isReplayableBody,
  planRequest,
} from './http-rules.js';
import { ResponseError } from './response-error.js';

type FetchFn = typeof globalThis.fetch;

export interface BreakwaterRequestInit extends RequestInit {
  breakwater?: BreakwaterFetchOptions;
}

export type ResilientFetch = (
  input: string | URL | Request,
  init?: BreakwaterRequestInit,
) => Promise<Response>;

export interface CreateFetchOptions extends HttpRuleOptions {
  /** The pipeline every request runs through (a fallback in it must answer with a Response). */
  policy: Policy<Response>;
  /** The fetch to call. @default globalThis.fetch, looked up on each call */
  fetch?: FetchFn;
  /**
   * Each attempt tells the server the ms left before the call's deadline (`ctx.deadline`) in this
   * header, unless the request sets it itself; `false` sends none. @default 'x-request-timeout-ms'
   */
  deadlineHeader?: string | false;
}

const KNOWN = ['policy', 'fetch', 'isFailureStatus', 'now', 'idempotencyKeys', 'deadlineHeader'];

export const CREATE_FETCH_DEFAULTS = Object.freeze({
  isFailureStatus: isFailureStatusDefault,
  idempotencyKeys: 'off' as const,
  deadlineHeader: DEADLINE_HEADER,
});

/** Lets go of a response we will not return, so its socket goes back to the pool or is closed. */
function discard(response: Response): void {
  if (response.body !== null && !response.bodyUsed) response.body.cancel().catch(() => {});
}

/**
 * A fetch that runs every request through `policy`. Failure statuses become `ResponseError`
 * inside the pipeline and come back as the last response at the edge; only idempotent requests
 * (by method, an Idempotency-Key, or `init.breakwater.idempotent: true`) with a replayable body
 * are repeated.
 */
export function createFetch(options: CreateFetchOptions): ResilientFetch {
  if (typeof options !== 'object' || options === null)
    throw fail('createFetch', 'options', 'an object', options);
  checkKnown('createFetch', options, KNOWN);
  const { policy, fetch: givenFetch } = options;
  if (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function') {
    throw fail('createFetch', 'policy', 'a Breakwater policy', policy);
  }
  if (givenFetch !== undefined && typeof givenFetch !== 'function')
    throw fail('createFetch', 'fetch', 'a function', givenFetch);
  const rules = checkHttpRules('createFetch', options);
  const deadlineHeader = options.deadlineHeader ?? CREATE_FETCH_DEFAULTS.deadlineHeader;
  if (deadlineHeader !== false && (typeof deadlineHeader !== 'string' || deadlineHeader === '')) {
    throw fail('createFetch', 'deadlineHeader', 'a header name or false', deadlineHeader);
  }

  return async function resilientFetch(input, init) {
    const fetchImpl = givenFetch ?? globalThis.fetch;
    const request = input instanceof Request ? input : undefined;
    const { breakwater, ...requestInit } = init ?? {};
    const method = (requestInit.method ?? request?.method ?? 'GET').toUpperCase();
    const headers = new Headers(requestInit.headers ?? request?.headers);
    // `body: undefined` (or null) in init means the Request's own body, as fetch reads it.
    const body = requestInit.body ?? request?.body;
    const plan = planRequest('createFetch', rules, {
      method,
      headerKey: headers.get('idempotency-key'),
      breakwater,
      replayableBody: isReplayableBody(body),
    });
    if (plan.addHeader !== undefined) {
      headers.set('idempotency-key', plan.addHeader);
      requestInit.headers = headers;
    }
    const callerSignal = requestInit.signal ?? request?.signal ?? undefined;

    let held: Response | undefined;
    let settled = false;
    const sendsDeadline = deadlineHeader !== false && !headers.has(deadlineHeader);
    const attempt = async (signal: AbortSignal, deadline: number | undefined): Promise<Response> => {
      if (held !== undefined) {
        discard(held);
        held = undefined;
      }
      let attemptInit: RequestInit = { ...requestInit, signal };
      if (sendsDeadline && deadline !== undefined) {
        // The time left now, at this attempt: relative, so the server's clock need not agree with ours.
        const withDeadline = new Headers(headers);
        withDeadline.set(deadlineHeader as string, formatDeadline(deadline, rules.now()));
        attemptInit = { ...attemptInit, headers: withDeadline };
      }
      const response = await fetchImpl(input, attemptInit);
      if (settled) {
        // The call already ended (an aggressive timeout, a caller abort): nobody will read this one.
        discard(response);
        return response;
      }
      if (!rules.isFailureStatus(response.status)) return response;
      held = response;
      throw new ResponseError(response, parseRetryAfter(response.headers.get('retry-after'), rules.now()));
    };

    try {
      return await policy.execute(
        (ctx) => attempt(ctx.signal, ctx.deadline),
        executeOptions(plan, breakwater, callerSignal),
      );
    } catch (error) {
      if (held !== undefined && error instanceof ResponseError && error.response === held) return held;
      if (held !== undefined) discard(held);
      throw error;
    } finally {
      settled = true;
    }
  };
}
