import type { Policy } from '@breakwater/core';
import { parseRetryAfter } from '@breakwater/http';
import {
  type BreakwaterFetchOptions,
  checkHttpRules,
  checkKnown,
  executeOptions,
  fail,
  type HttpRuleOptions,
  type HttpRules,
  isReplayableBody,
  planRequest,
} from './http-rules.js';
import { ResponseError } from './response-error.js';

// The parts of undici's Dispatcher API the interceptor uses, written out so that these types do not
// need undici (an optional peer) installed.
type Headers_ = Record<string, string | string[] | undefined> | string[] | Iterable<[string, string]> | null;

export interface InterceptedDispatchOptions {
  method?: string;
  path: string;
  headers?: Headers_ | undefined;
  body?: unknown;
  /** Per-call pipeline options, as `init.breakwater` of createFetch. */
  breakwater?: BreakwaterFetchOptions | undefined;
  [key: string]: unknown;
}

interface DispatchController {
  readonly aborted: boolean;
  readonly paused: boolean;
  readonly reason: unknown;
  abort(reason: unknown): void;
  pause(): void;
  resume(): void;
}

interface DispatchHandler {
  onRequestStart?(controller: DispatchController, context: unknown): void;
  onResponseStart?(
    controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    statusMessage?: string,
  ): void;
  onResponseData?(controller: DispatchController, chunk: Uint8Array): void;
  onResponseEnd?(controller: DispatchController, trailers: Record<string, string | string[]>): void;
  onResponseError?(controller: DispatchController, error: Error): void;
}

type Dispatch = (options: InterceptedDispatchOptions, handler: DispatchHandler) => boolean;

/**
 * What `Dispatcher.compose` takes: a function from the next `dispatch` to a `dispatch`. Generic, so
 * it fits undici 7's and 8's own types without this package depending on them.
 */
export type DispatchInterceptor = <D extends (options: never, handler: never) => boolean>(dispatch: D) => D;

export interface InterceptorOptions extends HttpRuleOptions {
  /** A discarded response's body is read and dropped up to this size (its socket stays usable), then cut. @default 65_536 */
  maxDiscardBytes?: number;
}

const KNOWN = ['isFailureStatus', 'now', 'idempotencyKeys', 'maxDiscardBytes'];

function entriesOf(headers: Headers_ | undefined): Array<[string, string | string[]]> {
  if (headers === null || headers === undefined) return [];
  if (Array.isArray(headers)) {
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < headers.length; i += 2)
      entries.push([String(headers[i]), String(headers[i + 1])]);
    return entries;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return [...(headers as Iterable<[string, string]>)];
  }
  return Object.entries(headers as Record<string, string | string[] | undefined>).filter(
    (entry): entry is [string, string | string[]] => entry[1] !== undefined,
  );
}

function headerValue(headers: Headers_ | undefined, name: string): string | undefined {
  for (const [key, value] of entriesOf(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value.join(', ') : value;
  }
  return undefined;
}

/** The attempt a failure-status error came from: at the edge its response is the one delivered. */
const attemptOf = new WeakMap<ResponseError, Attempt>();

/** One attempt's response: held (paused, its first chunks kept) until the pipeline decides its fate. */
class Attempt implements DispatchHandler {
  controller: DispatchController | undefined;
  status = 0;
  headers: Record<string, string | string[]> = {};
  statusMessage: string | undefined;
  private chunks: Uint8Array[] = [];
  private trailers: Record<string, string | string[]> | undefined;
  private failure: Error | undefined;
  private mode: 'waiting' | 'held' | 'delivering' | 'discarding' = 'waiting';
  private dropped = 0;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly rules: HttpRules,
    private readonly maxDiscardBytes: number,
    private readonly signal: AbortSignal,
    private readonly settle: (outcome: { response: Attempt } | { error: unknown }) => void,
  ) {}

  onRequestStart(controller: DispatchController): void {
    this.controller = controller;
    if (this.signal.aborted) controller.abort(this.signal.reason);
    else {
      const onAbort = (): void => {
        if (this.mode === 'waiting') controller.abort(this.signal.reason);
      };
      this.signal.addEventListener('abort', onAbort, { once: true });
      this.unlisten = () => this.signal.removeEventListener('abort', onAbort);
    }
  }

  onResponseStart(
    controller: DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return; // informational: wait for the real answer
    this.unlisten?.();
    this.status = statusCode;
    this.headers = headers;
    this.statusMessage = statusMessage;
    this.mode = 'held';
    controller.pause();
    if (!this.rules.isFailureStatus(statusCode)) {
      this.settle({ response: this });
      return;
    }
    const retryAfter = headers['retry-after'];
    const response = new Response(null, {
      status: statusCode,
      statusText: statusMessage ?? '',
      headers: Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]),
    });
    const error = new ResponseError(
      response,
      parseRetryAfter(
        Array.isArray(retryAfter) ? (retryAfter[0] ?? null) : (retryAfter ?? null),
        this.rules.now(),
      ),
    );
    attemptOf.set(error, this);
    this.settle({ error });
  }

  onResponseData(controller: DispatchController, chunk: Uint8Array): void {
    if (this.mode === 'delivering') this.downstream!.onResponseData?.(this.outer!, chunk);
    else if (this.mode === 'discarding') {
      this.dropped += chunk.length;
      if (this.dropped > this.maxDiscardBytes)
        controller.abort(new Error('discarded response body too large'));
    } else this.chunks.push(chunk);
  }

  onResponseEnd(_controller: DispatchController, trailers: Record<string, string | string[]>): void {
    if (this.mode === 'delivering') this.downstream!.onResponseEnd?.(this.outer!, trailers);
    else this.trailers = trailers;
  }

  onResponseError(_controller: DispatchController, error: Error): void {
    this.unlisten?.();
    if (this.mode === 'delivering') this.downstream!.onResponseError?.(this.outer!, error);
    else if (this.mode === 'waiting') this.settle({ error });
    else this.failure = error;
  }

  private downstream: DispatchHandler | undefined;
  private outer: DispatchController | undefined;

  /** Hands the response to the caller's handler, with what arrived while it was held. */
  deliver(handler: DispatchHandler, outer: DispatchController): void {
    this.downstream = handler;
    this.outer = outer;
    this.mode = 'delivering';
    handler.onResponseStart?.(outer, this.status, this.headers, this.statusMessage);
    for (const chunk of this.chunks.splice(0)) handler.onResponseData?.(outer, chunk);
    if (this.trailers !== undefined) handler.onResponseEnd?.(outer, this.trailers);
    else if (this.failure !== undefined) handler.onResponseError?.(outer, this.failure);
    else if (!outer.paused) this.controller?.resume();
  }

  /** Reads what is left of a response nobody will see and drops it, so the socket can be reused. */
  discard(): void {
    this.unlisten?.();
    if (this.mode === 'discarding' || this.mode === 'delivering') return;
    const finished = this.trailers !== undefined || this.failure !== undefined;
    this.mode = 'discarding';
    this.chunks = [];
    if (this.status === 0)
      this.controller?.abort(new Error('request superseded')); // no response yet
    else if (!finished) this.controller?.resume();
  }
}

/**
 * An undici interceptor (`Dispatcher.compose`) that runs every request through `policy`, with
 * createFetch's HTTP rules: failure statuses inside the pipeline and the last such response delivered
 * at the edge, only idempotent requests (or those with an Idempotency-Key) with a replayable body
 * repeated, Retry-After honoured, discarded bodies consumed.
 */
export function interceptor(policy: Policy, options: InterceptorOptions = {}): DispatchInterceptor {
  if (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function') {
    throw fail('interceptor', 'policy', 'a Breakwater policy', policy);
  }
  if (typeof options !== 'object' || options === null)
    throw fail('interceptor', 'options', 'an object', options);
  checkKnown('interceptor', options, KNOWN);
  const rules = checkHttpRules('interceptor', options);
  const maxDiscardBytes = options.maxDiscardBytes ?? 65_536;
  if (typeof maxDiscardBytes !== 'number' || !(maxDiscardBytes >= 0)) {
    throw fail('interceptor', 'maxDiscardBytes', 'a number >= 0', maxDiscardBytes);
  }

  return ((next: Dispatch) =>
    function breakwater(opts: InterceptedDispatchOptions, handler: DispatchHandler): boolean {
      const { breakwater: perCall, ...dispatchOptions } = opts;
      const caller = new AbortController();
      let paused = false;
      let current: Attempt | undefined;
      const outer: DispatchController = {
        get aborted() {
          return caller.signal.aborted;
        },
        get paused() {
          return paused;
        },
        get reason() {
          return caller.signal.reason;
        },
        abort(reason) {
          if (!caller.signal.aborted) caller.abort(reason);
          current?.controller?.abort(reason);
        },
        pause() {
          paused = true;
          current?.controller?.pause();
        },
        resume() {
          paused = false;
          current?.controller?.resume();
        },
      };
      let plan: ReturnType<typeof planRequest>;
      try {
        plan = planRequest('interceptor', rules, {
          method: (opts.method ?? 'GET').toUpperCase(),
          headerKey: headerValue(opts.headers, 'idempotency-key'),
          breakwater: perCall,
          replayableBody: isReplayableBody(opts.body),
        });
      } catch (error) {
        handler.onRequestStart?.(outer, {});
        handler.onResponseError?.(outer, error as Error);
        return true;
      }
      if (plan.addHeader !== undefined) {
        dispatchOptions.headers = [
          ...entriesOf(opts.headers).flatMap(([k, v]) =>
            Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]],
          ),
          ['idempotency-key', plan.addHeader],
        ].flat() as string[];
      }
      handler.onRequestStart?.(outer, {});

      let held: Attempt | undefined;
      let settled = false;
      const attempt = (signal: AbortSignal): Promise<Attempt> =>
        new Promise((resolve, reject) => {
          if (held !== undefined) {
            held.discard();
            held = undefined;
          }
          const a = new Attempt(rules, maxDiscardBytes, signal, (outcome) => {
            if (settled) {
              a.discard(); // the call already ended (an aggressive timeout, a caller abort)
              return;
            }
            if ('response' in outcome) resolve(outcome.response);
            else {
              if (outcome.error instanceof ResponseError) held = a;
              reject(outcome.error);
            }
          });
          current = a;
          next(dispatchOptions as InterceptedDispatchOptions, a);
        });

      policy
        .execute((ctx) => attempt(ctx.signal), executeOptions(plan, perCall, caller.signal))
        .then(
          (response) => {
            settled = true;
            if (!(response instanceof Attempt)) {
              handler.onResponseError?.(
                outer,
                new TypeError('interceptor: the pipeline answered with a value that is not a response'),
              );
              return;
            }
            current = response;
            response.deliver(handler, outer);
          },
          (error: unknown) => {
            settled = true;
            if (held !== undefined && error instanceof ResponseError && attemptOf.get(error) === held) {
              current = held;
              held.deliver(handler, outer);
              return;
            }
            held?.discard();
            handler.onResponseError?.(outer, error as Error);
          },
        );
      return true;
    }) as unknown as DispatchInterceptor;
}
