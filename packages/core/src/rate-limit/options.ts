import type { Clock } from '../clock/clock.js';
import type { EventBase } from '../events/events.js';
import type { PolicyContext, RateLimitQuota } from '../pipeline/context.js';

/**
 * What a limiter answers: go, or when the call would pass; with `quota`, what is left of it (for
 * `RateLimit` headers).
 */
export type LimiterResult =
  | { readonly ok: true; readonly quota?: RateLimitQuota | undefined }
  | { readonly ok: false; readonly retryAfterMs: number; readonly quota?: RateLimitQuota | undefined };

/**
 * A rate limiter: in process (`limits.tokenBucket`) or clustered (`@breakwater/redis`). `tryAcquire`
 * takes `cost` units now or says when they would be there; it may answer synchronously or with a promise.
 * `reserve` (optional) takes them on credit, to be used after `waitMs`, so waiters are served in turn;
 * `refund` (optional) gives back what a waiter that gave up had reserved.
 */
export interface Limiter {
  tryAcquire(cost: number, now: number): LimiterResult | PromiseLike<LimiterResult>;
  reserve?(
    cost: number,
    now: number,
    maxWaitMs: number,
  ): { ok: true; waitMs: number } | { ok: false; retryAfterMs: number };
  refund?(cost: number, now: number): void;
}

/** The in-process limiter: synchronous, with reservations, and its tokens readable. */
export interface TokenBucket extends Limiter {
  tryAcquire(cost: number, now: number): LimiterResult;
  reserve(
    cost: number,
    now: number,
    maxWaitMs: number,
  ): { ok: true; waitMs: number } | { ok: false; retryAfterMs: number };
  refund(cost: number, now: number): void;
  /** Tokens in the bucket at `now` (below zero while waiters hold reservations). */
  tokens(now: number): number;
  /**
   * A bucket of the same settings for one key (a client, a tenant), made on first use; at most
   * `maxKeys` are kept, the least recently used dropped first (a dropped key starts full again).
   */
  forKey(key: string): TokenBucket;
}

export interface RateLimitOptions {
  /** Name in events and telemetry. @default 'rate-limit' */
  name?: string;
  /** Required: `limits.tokenBucket({ ratePerSec, burst })` or a clustered limiter. */
  limiter: Limiter;
  /** A call waits up to this long for its turn; longer, and it is refused. @default 0 (refuse at once) */
  maxWaitMs?: number;
  /** Units a call takes: a number or a function of the context. @default 1 */
  cost?: number | ((ctx: PolicyContext) => number);
  /** @default the system clock */
  clock?: Clock;
}

export const RATE_LIMIT_DEFAULTS = Object.freeze({ name: 'rate-limit', maxWaitMs: 0, cost: 1 });

export interface TokenBucketOptions {
  /** Tokens added per second. Required. */
  ratePerSec: number;
  /** Tokens the bucket holds: the burst allowed after a quiet spell. @default ratePerSec (one second's worth) */
  burst?: number;
  /** Buckets `forKey` keeps at most. @default 10_000 */
  maxKeys?: number;
}

export interface RateLimitRejectEvent extends EventBase {
  readonly cost: number;
  /** When the call would pass; `undefined` when it never can (a cost above the burst). */
  readonly retryAfterMs: number | undefined;
}
