import { type Limiter, type LimiterResult, StoreUnavailableError } from '@breakwater/core';
import { keyOf, type RedisStoreOptions, script, storeOptions, within } from './redis-shared.js';

export interface RedisRateLimiterOptions extends RedisStoreOptions {
  /** Sustained rate, shared by every process using the same `prefix` and `key`. Required. */
  ratePerSec: number;
  /** Calls allowed at once above the rate (the bucket's depth). @default 1 */
  burst?: number;
  /** Which limit, under the prefix (one limiter per key: per tenant, per client). @default 'global' */
  key?: string;
  /**
   * What a call gets when Redis cannot be reached: `false` (the default) refuses it with
   * `StoreUnavailableError` (the limit holds); `true` lets it through (availability over the limit).
   */
  failOpen?: boolean;
}

export interface RedisRateLimiter extends Limiter {
  tryAcquire(cost: number, now?: number): Promise<LimiterResult>;
  /** The same limit settings for another key (a tenant, a client). */
  forKey(key: string): RedisRateLimiter;
}

// GCRA (the generic cell rate algorithm) on Redis's clock, in one script: one round trip per call.
// KEYS[1] the theoretical arrival time; ARGV[1] ms per unit, ARGV[2] burst tolerance ms, ARGV[3] cost.
// Answers { ms until the call would pass, or -1 when it passes; units left; ms until the quota is full },
// as strings (Lua would truncate numbers).
const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local newTat = tat + interval * tonumber(ARGV[3])
local allowAt = newTat - tolerance
if allowAt > now then
  return { tostring(math.ceil(allowAt - now)), tostring(math.floor((now + tolerance - tat) / interval)), tostring(tat - now) }
end
redis.call('SET', KEYS[1], tostring(newTat), 'PX', math.max(1, math.ceil(newTat - now)))
return { '-1', tostring(math.floor((now + tolerance - newTat) / interval)), tostring(newTat - now) }`;

/** A rate limit shared across processes: GCRA in one Lua script on Redis's clock. */
export function redisRateLimiter(options: RedisRateLimiterOptions): RedisRateLimiter {
  const { client, prefix, operationTimeoutMs } = storeOptions('redisRateLimiter', options, [
    'client',
    'prefix',
    'operationTimeoutMs',
    'ratePerSec',
    'burst',
    'key',
    'failOpen',
  ]);
  const { ratePerSec } = options;
  if (typeof ratePerSec !== 'number' || !(ratePerSec > 0) || !Number.isFinite(ratePerSec)) {
    throw new RangeError(
      `redisRateLimiter: option "ratePerSec" must be a positive, finite number, got ${String(ratePerSec)}`,
    );
  }
  const burst = options.burst ?? 1;
  if (typeof burst !== 'number' || !(burst >= 1) || !Number.isFinite(burst)) {
    throw new RangeError(`redisRateLimiter: option "burst" must be a number >= 1, got ${String(burst)}`);
  }
  const failOpen = options.failOpen ?? false;
  if (typeof failOpen !== 'boolean')
    throw new TypeError('redisRateLimiter: option "failOpen" must be a boolean');
  const gcra = script(client, 'bwRateGcra2', 1, GCRA);
  const intervalMs = 1_000 / ratePerSec;
  // With a tolerance of `burst` intervals, a full bucket lets `burst` calls through at once.
  const toleranceMs = intervalMs * burst;

  const make = (key: string): RedisRateLimiter => {
    if (typeof key !== 'string' || key === '')
      throw new TypeError('redisRateLimiter: a key must be a non-empty string');
    const redisKey = keyOf(prefix, 'r', key);
    return {
      async tryAcquire(cost: number): Promise<LimiterResult> {
        let reply: unknown;
        try {
          reply = await within(
            operationTimeoutMs,
            'rate limit',
            gcra(redisKey, intervalMs, toleranceMs, cost),
          );
        } catch (error) {
          if (failOpen) return { ok: true };
          throw new StoreUnavailableError('Rate limit store unreachable; the call was not run', {
            cause: error,
            retryAfterMs: 1_000,
          });
        }
        const [wait, left, full] = (reply as string[]).map(Number) as [number, number, number];
        const quota = {
          limit: burst,
          windowMs: toleranceMs,
          remaining: Math.max(0, Math.min(burst, left)),
          resetMs: Math.max(0, full),
        };
        return wait < 0 ? { ok: true, quota } : { ok: false, retryAfterMs: wait, quota };
      },
      forKey: make,
    };
  };
  return make(options.key ?? 'global');
}
