// What happens to an admitted request, once for both adapters: idempotency → cache → handler, in the
// order DESIGN.md gives. An adapter describes its request and how to run the handler, send and fail
// (an `Exchange`); this decides which of them happens.

import { CACHE_HIT, CACHE_MISS, CACHE_STATUS_HEADER, ClientGoneError } from './cached-responses.js';
import { ServerErrorResponse } from './idempotent-responses.js';
import { type ErrorResponse, errorResponse } from './problem.js';
import type { Admitted, ServerPlan } from './server.js';
import { REPLAYED_HEADER, type StoredResponse } from './stored-response.js';

export interface Exchange {
  readonly method: string;
  readonly headers: Record<string, string | readonly string[] | undefined>;
  /** Path and query as sent. */
  readonly url: string;
  /** The route pattern, or the path: the fingerprint's route. */
  readonly route: string;
  /** The request body as parsed (for the fingerprint). */
  readonly body: unknown;
  /** Runs the handler; nothing of its response is kept. */
  next(): void;
  /**
   * Runs the handler and resolves with its response as kept (`storeResponse` with `headers`) once it
   * is sent; rejects with `ClientGoneError` when the client leaves first.
   */
  capture(headers: readonly string[]): Promise<StoredResponse>;
  /** Sends a kept response (a replay or a cache hit) with extra headers. */
  send(stored: StoredResponse, extra: Record<string, string>): void;
  /** Sends a Breakwater refusal. */
  refuse(response: ErrorResponse): void;
  /** Hands an error that is not Breakwater's to the framework's error handling. */
  fail(error: unknown): void;
  setHeader(name: string, value: string): void;
  // Methods, not getters: an object literal with getters is slow to make (see server.ts), and an
  // exchange is made per request.
  /** The response has started (headers sent). */
  started(): boolean;
  /** The client has gone. */
  gone(): boolean;
}

export function respond(plan: ServerPlan, admitted: Admitted, exchange: Exchange): void {
  const { idempotency, cache } = plan;
  if (idempotency === undefined && cache === undefined) {
    exchange.next();
    return;
  }
  const idempotent = idempotency?.decide({
    method: exchange.method,
    headers: exchange.headers,
    route: exchange.route,
    body: exchange.body,
    tenant: admitted.key,
  }) ?? { kind: 'skip' as const };
  if (idempotent.kind === 'refuse') {
    exchange.refuse(idempotent.response);
    return;
  }
  const cached = cache?.decide({
    method: exchange.method,
    url: exchange.url,
    headers: exchange.headers,
    tenant: admitted.key,
  }) ?? { kind: 'skip' as const };
  if (idempotent.kind === 'skip' && cached.kind === 'skip') {
    exchange.next();
    return;
  }
  const onError = (error: unknown): void => {
    // A 5xx was sent by the handler itself; a gone client hears nothing.
    if (error instanceof ServerErrorResponse || exchange.started() || exchange.gone()) return;
    const refusal = errorResponse(error);
    if (refusal !== undefined) exchange.refuse(refusal);
    else exchange.fail(error);
  };
  const kept = plan.storedHeaders;
  /** The response: from the cache, or the handler's (kept to cache it). */
  const throughCache = (): Promise<StoredResponse> => {
    if (cached.kind === 'skip') return exchange.capture(kept);
    return cache!
      .run(cached, () => {
        exchange.setHeader(CACHE_STATUS_HEADER, CACHE_MISS);
        return exchange.capture(kept);
      })
      .then(({ hit, response }) => {
        if (hit && !exchange.started()) exchange.send(response, { [CACHE_STATUS_HEADER]: CACHE_HIT });
        return response;
      });
  };
  if (idempotent.kind === 'skip') {
    throughCache().then(undefined, (error: unknown) => {
      if (!(error instanceof ClientGoneError)) onError(error);
    });
    return;
  }
  idempotency!.run(idempotent, admitted.signal, throughCache).then(({ replayed, response }) => {
    if (replayed && !exchange.started()) exchange.send(response, { [REPLAYED_HEADER]: 'true' });
  }, onError);
}
