import { BreakwaterError } from '@breakwater/core';

/**
 * A response whose status counts as a failure, raised inside the pipeline so retry and the breaker
 * see it. `createFetch` hands the response itself back at the edge when the pipeline gives up.
 */
export class ResponseError extends BreakwaterError {
  readonly response: Response;
  readonly status: number;

  constructor(response: Response, retryAfterMs: number | undefined) {
    super(
      'BW_HTTP_STATUS',
      `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`,
      {
        retryAfterMs,
      },
    );
    this.response = response;
    this.status = response.status;
  }
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
