// The HTTP rules createFetch and the undici interceptor share: which responses fail, which requests
// may be repeated, what an Idempotency-Key looks like on the wire.
import { randomUUID } from 'node:crypto';
import type { ExecuteOptions } from '@breakwater/core';
import { fromSfString, toSfString } from '@breakwater/http';

/** Per-call options for the pipeline: every `execute` option but `signal` (the request's own). */
export type BreakwaterFetchOptions = Omit<ExecuteOptions, 'signal'>;

export type IdempotencyKeys = 'off' | 'auto';

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);
const AUTO_KEY_METHODS: ReadonlySet<string> = new Set(['POST', 'PATCH']);

/**
 * Bodies that can be sent again: none, strings, bytes (ArrayBuffer and its views), Blob,
 * URLSearchParams, FormData; never a stream or an (async) iterable, which is read once.
 */
export function isReplayableBody(body: unknown): boolean {
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

/** 408, 429 and 5xx. */
export const isFailureStatusDefault = (status: number): boolean =>
  status === 408 || status === 429 || status >= 500;

/** The options both adapters take beyond the policy, checked the same way. */
export interface HttpRuleOptions {
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

export interface HttpRules {
  isFailureStatus: (status: number) => boolean;
  now: () => number;
  idempotencyKeys: IdempotencyKeys;
}

export function checkHttpRules(adapter: string, options: HttpRuleOptions): HttpRules {
  const { isFailureStatus = isFailureStatusDefault, now = Date.now, idempotencyKeys = 'off' } = options;
  if (typeof isFailureStatus !== 'function')
    throw fail(adapter, 'isFailureStatus', 'a function', isFailureStatus);
  if (typeof now !== 'function') throw fail(adapter, 'now', 'a function', now);
  if (idempotencyKeys !== 'off' && idempotencyKeys !== 'auto') {
    throw new TypeError(
      `${adapter}: option "idempotencyKeys" must be one of 'off', 'auto', got ${JSON.stringify(idempotencyKeys)}`,
    );
  }
  return { isFailureStatus, now, idempotencyKeys };
}

export function fail(adapter: string, option: string, expected: string, given: unknown): TypeError {
  return new TypeError(
    `${adapter}: option "${option}" must be ${expected}, got ${given === null ? 'null' : typeof given}`,
  );
}

export function checkKnown(adapter: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${adapter}: unknown option "${key}"; known options are ${known.join(', ')}`);
    }
  }
}

export interface RequestFacts {
  method: string;
  /** The Idempotency-Key header the request already has, if any. */
  headerKey: string | null | undefined;
  /** `breakwater` per-call options, if any. */
  breakwater: BreakwaterFetchOptions | undefined;
  /** Whether the body can be sent again. */
  replayableBody: boolean;
}

export interface RequestPlan {
  /** The key the call carries (`ctx.idempotencyKey`), unquoted. */
  idempotencyKey: string | undefined;
  /** The header value to add, when the request has none yet. */
  addHeader: string | undefined;
  /** Whether the pipeline may repeat the request. */
  repeatable: boolean;
}

/**
 * Which requests may be repeated: idempotent methods, requests with an Idempotency-Key (a header,
 * `breakwater.idempotencyKey`, or one made by `idempotencyKeys: 'auto'`) and requests marked
 * `breakwater.idempotent: true`, and only with a body that can be sent again.
 */
export function planRequest(adapter: string, rules: HttpRules, facts: RequestFacts): RequestPlan {
  const { breakwater } = facts;
  if (breakwater !== undefined && (typeof breakwater !== 'object' || breakwater === null)) {
    throw new TypeError(`${adapter}: breakwater must be an object of per-call pipeline options`);
  }
  let idempotencyKey =
    facts.headerKey === null || facts.headerKey === undefined ? undefined : fromSfString(facts.headerKey);
  let addHeader: string | undefined;
  const asked = breakwater?.idempotencyKey;
  if (asked !== undefined) {
    if (typeof asked !== 'string' || asked === '') {
      throw new TypeError(`${adapter}: breakwater.idempotencyKey must be a non-empty string`);
    }
    if (idempotencyKey !== undefined && idempotencyKey !== asked) {
      throw new TypeError(
        `${adapter}: the request has an Idempotency-Key header and breakwater.idempotencyKey differs from it`,
      );
    }
    if (idempotencyKey === undefined) {
      idempotencyKey = asked;
      addHeader = toSfString(asked);
    }
  } else if (
    idempotencyKey === undefined &&
    rules.idempotencyKeys === 'auto' &&
    AUTO_KEY_METHODS.has(facts.method)
  ) {
    idempotencyKey = randomUUID();
    addHeader = toSfString(idempotencyKey);
  }
  const idempotent =
    breakwater?.idempotent ?? (IDEMPOTENT_METHODS.has(facts.method) || idempotencyKey !== undefined);
  return { idempotencyKey, addHeader, repeatable: idempotent && facts.replayableBody };
}

/** The pipeline options of a request: the per-call ones, with what the HTTP rules decided. */
export function executeOptions(
  plan: RequestPlan,
  breakwater: BreakwaterFetchOptions | undefined,
  signal: AbortSignal | undefined,
): ExecuteOptions {
  return { ...breakwater, idempotencyKey: plan.idempotencyKey, idempotent: plan.repeatable, signal };
}
