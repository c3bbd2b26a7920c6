import { isBreakwaterError } from '@breakwater/core';
import { formatRetryAfter } from './headers.js';

/** An RFC 9457 problem details body, with the Breakwater error code. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: ProblemDetails;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ErrorResponseOptions {
  /** A timeout answers 504 (a gateway that gave up on its upstream) rather than 503. @default false */
  gateway?: boolean;
  /** Used for a `retryAfterMs` the error does not carry. @default 1_000 for 503s */
  defaultRetryAfterMs?: number;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  409: 'Conflict',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** Which status each Breakwater code answers with (DESIGN.md, "HTTP"). */
function statusOf(code: string, gateway: boolean): number | undefined {
  switch (code) {
    case 'BW_OVERLOADED':
    case 'BW_THROTTLED':
    case 'BW_CIRCUIT_OPEN':
    case 'BW_BULKHEAD_FULL':
    case 'BW_STORE_UNAVAILABLE':
      return 503;
    case 'BW_TIMEOUT':
      return gateway ? 504 : 503;
    case 'BW_RATE_LIMITED':
      return 429;
    case 'BW_IDEMPOTENCY_CONFLICT':
      return 409;
    case 'BW_IDEMPOTENCY_MISMATCH':
      return 422;
    default:
      return undefined;
  }
}

/**
 * The response a Breakwater error answers with: its status, `Retry-After` (whole seconds) where the
 * client may try again, and a problem+json body; `undefined` for an error that is not Breakwater's
 * refusal (the application's own errors go to its error handling).
 */
export function errorResponse(error: unknown, options: ErrorResponseOptions = {}): ErrorResponse | undefined {
  if (!isBreakwaterError(error)) return undefined;
  const status = statusOf(error.code, options.gateway === true);
  if (status === undefined) return undefined;
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  const retryAfterMs =
    error.retryAfterMs ?? (status === 503 ? (options.defaultRetryAfterMs ?? 1_000) : undefined);
  if (retryAfterMs !== undefined && status !== 422) headers['retry-after'] = formatRetryAfter(retryAfterMs);
  return { status, headers, body: problem(status, error.code, error.message) };
}

/** A problem+json body of our own (a malformed Idempotency-Key, a missing one). */
export function problem(status: number, code: string, detail?: string): ProblemDetails {
  return {
    type: `https://breakwater.dev/problems/${code.toLowerCase().replace(/^bw_/, '').replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail === undefined ? {} : { detail }),
  };
}
