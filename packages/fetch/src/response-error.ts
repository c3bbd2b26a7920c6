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

// One reading of Retry-After for every adapter: @breakwater/http's.
export { parseRetryAfter } from '@breakwater/http';
