import { checkOptions, fraction, given, integer, optionError, positiveFinite } from '../errors/validate.js';

/** Why a window says the circuit should open. */
export type OpenReason = 'failures' | 'slow-calls';

/** The outcome-counting window of one circuit. */
export interface BreakerWindow {
  /**
   * Records one call: whether it failed, how long it took (0 unless the breaker `measures`
   * durations) and the time it ended (0 unless the breaker `usesClock`). Returns why the circuit
   * should open, or `undefined`.
   */
  record(failed: boolean, durationMs: number, now: number): OpenReason | undefined;
  reset(): void;
}

/**
 * When to open the circuit. A breaker is a recipe: each circuit breaker policy makes its own
 * window from it, so one `breakers.count(...)` can be shared by many policies.
 */
export interface Breaker {
  readonly kind: string;
  create(): BreakerWindow;
  /** The window needs each call's duration (slow-call counting). */
  readonly measures?: boolean;
  /** The window needs the time a call ended (time-based windows). */
  readonly usesClock?: boolean;
  /** The span of a time-based window, for checks across a pipeline (presets). */
  readonly windowMs?: number;
}

export interface SlowCallOptions {
  /** A call that took at least this long is slow, whatever its outcome. @default undefined (no slow-call counting) */
  slowCallMs?: number;
  /** Fraction of slow calls (0–1) among the counted ones that opens the circuit. @default 1 */
  slowCallRate?: number;
}

export interface CountBreakerOptions extends SlowCallOptions {
  /** How many of the latest calls are counted. @default 100 */
  size?: number;
  /** Fraction of failures (0–1) among the counted calls that opens the circuit. @default 0.5 */
  failureRate?: number;
  /** Calls needed in the window before the rates are trusted. @default 20 */
  minCalls?: number;
}

export interface TimeBreakerOptions extends SlowCallOptions {
  /** How far back calls are counted. @default 30_000 */
  windowMs?: number;
  /** The window slides by `windowMs / buckets`. @default 10 */
  buckets?: number;
  /** Fraction of failures (0–1) among the counted calls that opens the circuit. @default 0.5 */
  failureRate?: number;
  /** Calls needed in the window before the rates are trusted. @default 20 */
  minCalls?: number;
}

export const COUNT_BREAKER_DEFAULTS = Object.freeze({
  size: 100,
  failureRate: 0.5,
  minCalls: 20,
  slowCallRate: 1,
});
export const TIME_BREAKER_DEFAULTS = Object.freeze({
  windowMs: 30_000,
  buckets: 10,
  failureRate: 0.5,
  minCalls: 20,
  slowCallRate: 1,
});

/** Opens after `threshold` failures in a row; a success starts the count again. */
export function consecutive(threshold: number): Breaker {
  const n = integer('breakers.consecutive', 'threshold', threshold, 1);
  return Object.freeze({
    kind: 'consecutive',
    create(): BreakerWindow {
      let failures = 0;
      return {
        record(failed: boolean): OpenReason | undefined {
          if (!failed) {
            failures = 0;
            return undefined;
          }
          return ++failures >= n ? 'failures' : undefined;
        },
        reset: () => {
          failures = 0;
        },
      };
    },
  });
}

interface RateRule {
  failureRate: number;
  minCalls: number;
  slowCallMs: number;
  slowCallRate: number;
}

function slowCallRule(policy: string, options: SlowCallOptions, defaultRate: number): [number, number] {
  const slowCallMs =
    options.slowCallMs === undefined
      ? Number.POSITIVE_INFINITY
      : positiveFinite(policy, 'slowCallMs', options.slowCallMs);
  const slowCallRate = fraction(policy, 'slowCallRate', given(options.slowCallRate, defaultRate));
  return [slowCallMs, slowCallRate];
}

/**
 * The decision both rate windows share. `failures / calls`, not `failureRate * calls`: the product
 * rounds (0.28 * 25 is 7.000000000000001), while a correctly rounded quotient equals the rate when
 * the ratio does.
 */
function decide(rule: RateRule, calls: number, failures: number, slow: number): OpenReason | undefined {
  if (calls < rule.minCalls) return undefined;
  if (failures / calls >= rule.failureRate) return 'failures';
  if (slow / calls >= rule.slowCallRate) return 'slow-calls';
  return undefined;
}

/** Opens when the failure (or slow-call) rate over the last `size` calls reaches its threshold (after `minCalls` calls). */
export function count(options: CountBreakerOptions = {}): Breaker {
  checkOptions('breakers.count', options, ['size', 'failureRate', 'minCalls', 'slowCallMs', 'slowCallRate']);
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
  const [slowCallMs, slowCallRate] = slowCallRule('breakers.count', options, d.slowCallRate);
  const rule: RateRule = { failureRate, minCalls, slowCallMs, slowCallRate };
  return Object.freeze({
    kind: 'count',
    measures: slowCallMs !== Number.POSITIVE_INFINITY,
    create(): BreakerWindow {
      // A ring of the last `size` outcomes (bit 1 = failure, bit 2 = slow) with running totals: O(1) per call.
      const ring = new Uint8Array(size);
      let next = 0;
      let calls = 0;
      let failures = 0;
      let slow = 0;
      return {
        record(failed: boolean, durationMs: number): OpenReason | undefined {
          if (calls === size) {
            const old = ring[next]!;
            failures -= old & 1;
            slow -= old >> 1;
          } else calls++;
          const isSlow = durationMs >= slowCallMs ? 1 : 0;
          ring[next] = (failed ? 1 : 0) | (isSlow << 1);
          if (failed) failures++;
          slow += isSlow;
          next = next + 1 === size ? 0 : next + 1;
          return failed || isSlow === 1 ? decide(rule, calls, failures, slow) : undefined;
        },
        reset: () => {
          ring.fill(0);
          next = 0;
          calls = 0;
          failures = 0;
          slow = 0;
        },
      };
    },
  });
}

/**
 * Opens when the failure (or slow-call) rate over the last `windowMs` reaches its threshold (after
 * `minCalls` calls in the window). The window is `buckets` buckets of `windowMs / buckets` each and
 * slides a bucket at a time (Resilience4j's time-based sliding window).
 */
export function time(options: TimeBreakerOptions = {}): Breaker {
  checkOptions('breakers.time', options, [
    'windowMs',
    'buckets',
    'failureRate',
    'minCalls',
    'slowCallMs',
    'slowCallRate',
  ]);
  const d = TIME_BREAKER_DEFAULTS;
  const windowMs = positiveFinite('breakers.time', 'windowMs', given(options.windowMs, d.windowMs));
  const buckets = integer('breakers.time', 'buckets', given(options.buckets, d.buckets), 1);
  const failureRate = fraction('breakers.time', 'failureRate', given(options.failureRate, d.failureRate));
  const minCalls = integer('breakers.time', 'minCalls', given(options.minCalls, d.minCalls), 1);
  const [slowCallMs, slowCallRate] = slowCallRule('breakers.time', options, d.slowCallRate);
  const rule: RateRule = { failureRate, minCalls, slowCallMs, slowCallRate };
  const bucketMs = windowMs / buckets;
  return Object.freeze({
    kind: 'time',
    measures: slowCallMs !== Number.POSITIVE_INFINITY,
    usesClock: true,
    windowMs,
    create(): BreakerWindow {
      // Per bucket: calls, failures and slow calls, with totals over the live buckets.
      const callsIn = new Float64Array(buckets);
      const failuresIn = new Float64Array(buckets);
      const slowIn = new Float64Array(buckets);
      let current = Number.NEGATIVE_INFINITY; // index (time / bucketMs) of the newest bucket
      let calls = 0;
      let failures = 0;
      let slow = 0;
      const clear = (slot: number): void => {
        calls -= callsIn[slot]!;
        failures -= failuresIn[slot]!;
        slow -= slowIn[slot]!;
        callsIn[slot] = failuresIn[slot] = slowIn[slot] = 0;
      };
      const reset = (): void => {
        callsIn.fill(0);
        failuresIn.fill(0);
        slowIn.fill(0);
        calls = failures = slow = 0;
        current = Number.NEGATIVE_INFINITY;
      };
      return {
        record(failed: boolean, durationMs: number, now: number): OpenReason | undefined {
          const index = Math.floor(now / bucketMs);
          if (index > current) {
            // Buckets between the newest one and this one have expired.
            if (index - current >= buckets) reset();
            else for (let i = current + 1; i <= index; i++) clear(i % buckets);
            current = index;
          }
          // A call recorded late (a clock that went back) lands in the newest bucket.
          const slot = current % buckets;
          callsIn[slot]!++;
          calls++;
          if (failed) {
            failuresIn[slot]!++;
            failures++;
          }
          const isSlow = durationMs >= slowCallMs;
          if (isSlow) {
            slowIn[slot]!++;
            slow++;
          }
          return failed || isSlow ? decide(rule, calls, failures, slow) : undefined;
        },
        reset,
      };
    },
  });
}

export const breakers = Object.freeze({ consecutive, count, time });
