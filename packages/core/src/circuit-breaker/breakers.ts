import { checkOptions, fraction, given, integer, optionError } from '../errors/validate.js';

/** The failure-counting window of one circuit. */
export interface BreakerWindow {
  success(now: number): void;
  /** Records a failure; returns `true` when the circuit should open. */
  failure(now: number): boolean;
  reset(): void;
}

/**
 * When to open the circuit. A breaker is a recipe: each circuit breaker policy makes its own
 * window from it, so one `breakers.count(...)` can be shared by many policies.
 */
export interface Breaker {
  readonly kind: string;
  create(): BreakerWindow;
}

export interface CountBreakerOptions {
  /** How many of the latest calls are counted. @default 100 */
  size?: number;
  /** Fraction of failures (0–1) among the counted calls that opens the circuit. @default 0.5 */
  failureRate?: number;
  /** Calls needed in the window before the rate is trusted. @default 20 */
  minCalls?: number;
}

export const COUNT_BREAKER_DEFAULTS = Object.freeze({ size: 100, failureRate: 0.5, minCalls: 20 });

/** Opens after `threshold` failures in a row; a success starts the count again. */
export function consecutive(threshold: number): Breaker {
  const n = integer('breakers.consecutive', 'threshold', threshold, 1);
  return Object.freeze({
    kind: 'consecutive',
    create(): BreakerWindow {
      let failures = 0;
      return {
        success: () => {
          failures = 0;
        },
        failure: () => ++failures >= n,
        reset: () => {
          failures = 0;
        },
      };
    },
  });
}

/** Opens when the failure rate over the last `size` calls reaches `failureRate` (after `minCalls` calls). */
export function count(options: CountBreakerOptions = {}): Breaker {
  checkOptions('breakers.count', options, ['size', 'failureRate', 'minCalls']);
  const d = COUNT_BREAKER_DEFAULTS;
  const size = integer('breakers.count', 'size', given(options.size, d.size), 1);
  const failureRate = fraction('breakers.count', 'failureRate', given(options.failureRate, d.failureRate));
  const minCalls = integer('breakers.count', 'minCalls', given(options.minCalls, d.minCalls), 1);
  if (minCalls > size) {
    throw optionError(
      'breakers.count',
      'minCalls',
      `<= size (${size}), or the circuit could never open`,
      minCalls,
      'range',
    );
  }
  return Object.freeze({
    kind: 'count',
    create(): BreakerWindow {
      // A ring of the last `size` outcomes (1 = failure) with running totals: O(1) per call.
      const ring = new Uint8Array(size);
      let next = 0;
      let calls = 0;
      let failures = 0;
      const record = (failed: 0 | 1): void => {
        if (calls === size) failures -= ring[next]!;
        else calls++;
        ring[next] = failed;
        failures += failed;
        next = next + 1 === size ? 0 : next + 1;
      };
      return {
        success: () => record(0),
        failure: () => {
          record(1);
          // failures / calls, not failureRate * calls: the product rounds (0.28 * 25 is
          // 7.000000000000001), while a correctly rounded quotient equals the rate when the ratio does.
          return calls >= minCalls && failures / calls >= failureRate;
        },
        reset: () => {
          ring.fill(0);
          next = 0;
          calls = 0;
          failures = 0;
        },
      };
    },
  });
}

export const breakers = Object.freeze({ consecutive, count });
