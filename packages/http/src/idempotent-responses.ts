// Idempotency-Key at the HTTP layer, once for both adapters: which requests it covers, the key as
// the client sent it scoped by tenant, the fingerprint, and the run that stores a response or
// replays one. The adapters capture what the handler sends and write replays.

import { type IdempotencyStore, idempotency } from '@breakwater/core';
import { requestFingerprint } from './fingerprint.js';
import { IDEMPOTENCY_KEY_MAX_LENGTH, parseIdempotencyKey } from './headers.js';
import { methodsOption } from './options.js';
import { type ErrorResponse, PROBLEM_CONTENT_TYPE, problem } from './problem.js';
import type { StoredResponse } from './stored-response.js';

export interface HttpIdempotencyOptions {
  /** Where claims and responses live: `memoryIdempotencyStore()`, `redisIdempotencyStore(…)`. Required. */
  store: IdempotencyStore;
  /** A covered request without the header is refused with 400. @default false */
  required?: boolean;
  /** Methods covered. @default ['POST', 'PATCH'] */
  methods?: readonly string[];
  /** @default 86_400_000 */
  ttlMs?: number;
  /** @default 30_000 */
  leaseMs?: number;
  /** A duplicate in flight waits this long for the first response before 409. @default 0 */
  waitMs?: number;
  /** The header, case-insensitive. @default 'idempotency-key' */
  header?: string;
}

export interface IdempotentRequest {
  method: string;
  headers: Record<string, string | readonly string[] | undefined>;
  /** The route pattern (`/orders/:id`), or the path when there is none. */
  route: string;
  /** The request body as received (raw) or parsed (JSON-stringified for the fingerprint). */
  body: unknown;
  /** The tenant or client key (`options.key`): records of one tenant are never replayed to another. */
  tenant: string | undefined;
}

export type IdempotencyDecision =
  | { kind: 'skip' }
  | { kind: 'refuse'; response: ErrorResponse }
  | { kind: 'run'; key: string; fingerprint: string };

/** A 5xx answer: the work did not complete, so the key is freed for another try. */
export class ServerErrorResponse extends Error {
  constructor(readonly stored: StoredResponse) {
    super(`the handler answered ${stored.status}`);
  }
}

const bodyText = (body: unknown): string | Uint8Array | undefined =>
  body === undefined || body === null
    ? undefined
    : typeof body === 'string' || body instanceof Uint8Array
      ? body
      : JSON.stringify(body);

function refuse(code: string, detail: string): IdempotencyDecision {
  const body = problem(400, code, detail);
  return {
    kind: 'refuse',
    response: { status: 400, headers: { 'content-type': PROBLEM_CONTENT_TYPE }, body },
  };
}

export function idempotencyPlan(adapter: string, options: HttpIdempotencyOptions) {
  if (typeof options?.store?.begin !== 'function') {
    throw new TypeError(
      `${adapter}: option "idempotency.store" must be an IdempotencyStore (memoryIdempotencyStore(), redisIdempotencyStore(…))`,
    );
  }
  for (const name of Object.keys(options)) {
    if (!['store', 'required', 'methods', 'ttlMs', 'leaseMs', 'waitMs', 'header'].includes(name)) {
      throw new TypeError(`${adapter}: unknown option "idempotency.${name}"`);
    }
  }
  const methods = methodsOption(adapter, 'idempotency.methods', options.methods ?? ['POST', 'PATCH']);
  const givenHeader = options.header ?? 'idempotency-key';
  if (typeof givenHeader !== 'string' || givenHeader === '') {
    throw new TypeError(`${adapter}: option "idempotency.header" must be a header name`);
  }
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    throw new TypeError(`${adapter}: option "idempotency.required" must be a boolean`);
  }
  const header = givenHeader.toLowerCase();
  const policy = idempotency({
    store: options.store,
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    wait: { maxMs: options.waitMs ?? 0 },
    // A 5xx is released (thrown), everything else completed: the key's answer.
    saveOn: 'success',
  });
  return {
    decide(request: IdempotentRequest): IdempotencyDecision {
      if (!methods.has(request.method.toUpperCase())) return { kind: 'skip' };
      const parsed = parseIdempotencyKey(request.headers[header], IDEMPOTENCY_KEY_MAX_LENGTH);
      if (!parsed.ok) {
        if (parsed.reason === 'missing') {
          return options.required === true
            ? refuse('BW_IDEMPOTENCY_KEY_MISSING', `This request needs an ${header} header`)
            : { kind: 'skip' };
        }
        return refuse(
          'BW_IDEMPOTENCY_KEY_MALFORMED',
          parsed.reason === 'too-long'
            ? `The ${header} header is longer than ${IDEMPOTENCY_KEY_MAX_LENGTH} characters`
            : `The ${header} header must be a quoted string or a token`,
        );
      }
      // Length-prefixed, so no tenant and key can spell another pair.
      const tenant = request.tenant ?? '';
      const key = `${tenant.length}:${tenant}:${parsed.key}`;
      return {
        kind: 'run',
        key,
        fingerprint: requestFingerprint(request.method, request.route, bodyText(request.body)),
      };
    },
    /**
     * Runs `produce` (the handler, captured) at most once per key: resolves with the stored response and
     * whether it is a replay; rejects with the Breakwater refusal (409, 422, 503) or `ServerErrorResponse`.
     */
    async run(
      decision: { key: string; fingerprint: string },
      signal: AbortSignal,
      produce: () => Promise<StoredResponse>,
    ): Promise<{ replayed: boolean; response: StoredResponse }> {
      let produced = false;
      const response = (await policy.execute(
        async () => {
          produced = true;
          const stored = await produce();
          if (stored.status >= 500) throw new ServerErrorResponse(stored);
          return stored;
        },
        { idempotencyKey: decision.key, fingerprint: decision.fingerprint, signal },
      )) as StoredResponse;
      return { replayed: !produced, response };
    },
  };
}

export type IdempotencyPlan = ReturnType<typeof idempotencyPlan>;
