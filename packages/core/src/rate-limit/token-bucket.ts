import { checkOptions, given, positiveFinite } from '../errors/validate.js';
import type { RateLimitQuota } from '../pipeline/context.js';
import type { LimiterResult, TokenBucket, TokenBucketOptions } from './options.js';

/**
 * A token bucket in process: `ratePerSec` tokens a second, at most `burst` saved up. Refilled
 * lazily from the time each call gives, so it keeps no timer. `reserve` lets the bucket go into
 * debt for waiters, so they pass in the order they came, each after exactly its wait. `forKey`
 * gives a bucket of the same settings per client or tenant.
 */
export function tokenBucket(options: TokenBucketOptions): TokenBucket {
  checkOptions('limits.tokenBucket', options, ['ratePerSec', 'burst', 'maxKeys']);
  const ratePerSec = positiveFinite('limits.tokenBucket', 'ratePerSec', options.ratePerSec);
  const burst = positiveFinite('limits.tokenBucket', 'burst', given(options.burst, ratePerSec));
  const maxKeys = positiveFinite('limits.tokenBucket', 'maxKeys', given(options.maxKeys, 10_000));
  // Buckets by key, least recently used first (a Map keeps insertion order; a use moves a key last).
  const keyed = new Map<string, TokenBucket>();
  const forKey = (key: string): TokenBucket => {
    if (typeof key !== 'string') {
      throw new TypeError(`limits.tokenBucket: forKey(key) needs a string, got ${typeof key}`);
    }
    let bucket = keyed.get(key);
    if (bucket === undefined) {
      if (keyed.size >= maxKeys) keyed.delete(keyed.keys().next().value as string);
      bucket = makeBucket(ratePerSec, burst, forKey);
    } else keyed.delete(key);
    keyed.set(key, bucket);
    return bucket;
  };
  return makeBucket(ratePerSec, burst, forKey);
}

function makeBucket(ratePerSec: number, burst: number, forKey: (key: string) => TokenBucket): TokenBucket {
  const perMs = ratePerSec / 1_000;
  const windowMs = burst / perMs;
  let tokens = burst;
  let updatedAt = Number.NEGATIVE_INFINITY;

  function refill(now: number): void {
    if (now > updatedAt) {
      tokens =
        updatedAt === Number.NEGATIVE_INFINITY ? burst : Math.min(burst, tokens + (now - updatedAt) * perMs);
      updatedAt = now;
    }
  }

  const quota = (): RateLimitQuota => ({
    limit: burst,
    windowMs,
    remaining: tokens > 0 ? Math.floor(tokens) : 0,
    resetMs: (burst - tokens) / perMs,
  });

  const never = (): { ok: false; retryAfterMs: number } => ({
    ok: false,
    retryAfterMs: Number.POSITIVE_INFINITY,
  });

  return {
    tryAcquire(cost: number, now: number): LimiterResult {
      refill(now);
      if (cost > burst) return never();
      if (tokens >= cost) {
        tokens -= cost;
        return { ok: true, quota: quota() };
      }
      return { ok: false, retryAfterMs: (cost - tokens) / perMs, quota: quota() };
    },
    reserve(cost: number, now: number, maxWaitMs: number) {
      refill(now);
      if (cost > burst) return never();
      const waitMs = tokens >= cost ? 0 : (cost - tokens) / perMs;
      if (waitMs > maxWaitMs) return { ok: false, retryAfterMs: waitMs };
      tokens -= cost; // may go below zero: the debt later waiters queue behind
      return { ok: true, waitMs };
    },
    refund(cost: number, now: number): void {
      refill(now);
      tokens = Math.min(burst, tokens + cost);
    },
    tokens(now: number): number {
      refill(now);
      return tokens;
    },
    forKey,
  };
}
