import { checkOptions, given, positiveFinite } from '../errors/validate.js';
import type { LimiterResult, TokenBucket, TokenBucketOptions } from './options.js';

const OK: LimiterResult = Object.freeze({ ok: true });

/**
 * A token bucket in process: `ratePerSec` tokens a second, at most `burst` saved up. Refilled
 * lazily from the time each call gives, so it keeps no timer. `reserve` lets the bucket go into
 * debt for waiters, so they pass in the order they came, each after exactly its wait.
 */
export function tokenBucket(options: TokenBucketOptions): TokenBucket {
  checkOptions('limits.tokenBucket', options, ['ratePerSec', 'burst']);
  const ratePerSec = positiveFinite('limits.tokenBucket', 'ratePerSec', options.ratePerSec);
  const burst = positiveFinite('limits.tokenBucket', 'burst', given(options.burst, ratePerSec));
  const perMs = ratePerSec / 1_000;
  let tokens = burst;
  let updatedAt = Number.NEGATIVE_INFINITY;

  function refill(now: number): void {
    if (now > updatedAt) {
      tokens =
        updatedAt === Number.NEGATIVE_INFINITY ? burst : Math.min(burst, tokens + (now - updatedAt) * perMs);
      updatedAt = now;
    }
  }

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
        return OK;
      }
      return { ok: false, retryAfterMs: (cost - tokens) / perMs };
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
  };
}
