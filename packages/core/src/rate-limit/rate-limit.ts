import { systemClock } from '../clock/clock.js';
import { sleep } from '../clock/sleep.js';
import { RateLimitedError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  given,
  nameOption,
  optionError,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext, PolicyContext, RateLimitQuota } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import {
  type Limiter,
  type LimiterResult,
  RATE_LIMIT_DEFAULTS,
  type RateLimitOptions,
  type RateLimitRejectEvent,
} from './options.js';

export interface RateLimitPolicy extends Policy {
  onReject(listener: Listener<RateLimitRejectEvent>): Disposable;
}

const KNOWN = ['name', 'limiter', 'maxWaitMs', 'cost', 'clock'] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

function isLimiter(value: unknown): value is Limiter {
  return typeof value === 'object' && value !== null && typeof (value as Limiter).tryAcquire === 'function';
}

/** A limiter's answer, checked: nonsense from a user's limiter is an error, never a pass. */
function checked(name: string, result: unknown): LimiterResult {
  const r = result as Partial<{ ok: unknown; retryAfterMs: unknown }> | null;
  if (typeof r === 'object' && r !== null) {
    if (r.ok === true) return r as LimiterResult;
    if (r.ok === false && typeof r.retryAfterMs === 'number' && r.retryAfterMs >= 0)
      return r as LimiterResult;
  }
  throw new TypeError(
    `rateLimit "${name}": the limiter answered ${JSON.stringify(result)}, not { ok: true } or { ok: false, retryAfterMs }`,
  );
}

/** Calls at most at the limiter's rate; a call that would wait beyond `maxWaitMs` is refused. */
export function rateLimit(options: RateLimitOptions): RateLimitPolicy {
  checkOptions('rateLimit', options, KNOWN);
  const d = RATE_LIMIT_DEFAULTS;
  const name = nameOption('rateLimit', options.name, d.name);
  const limiter = options.limiter;
  if (!isLimiter(limiter)) {
    throw optionError(
      'rateLimit',
      'limiter',
      'a limiter (limits.tokenBucket or one with tryAcquire)',
      limiter,
    );
  }
  const maxWaitMs = finiteNumber('rateLimit', 'maxWaitMs', given(options.maxWaitMs, d.maxWaitMs));
  const costOption = given(options.cost, d.cost);
  if (typeof costOption !== 'function') finiteNumber('rateLimit', 'cost', costOption);
  const clock = clockOption('rateLimit', options.clock, systemClock);
  const rejectEvent = new EventSlot<RateLimitRejectEvent>('rate-limit', 'reject');

  function costOf(ctx: PolicyContext): number {
    if (typeof costOption !== 'function') return costOption;
    const cost = costOption(ctx);
    if (!(typeof cost === 'number' && cost >= 0 && Number.isFinite(cost))) {
      throw new TypeError(`rateLimit "${name}": cost(ctx) gave ${String(cost)}, not a finite number >= 0`);
    }
    return cost;
  }

  function refuse(
    ctx: ExecutionContext,
    cost: number,
    retryAfterMs: number,
    quota?: RateLimitQuota | undefined,
  ): never {
    const known = Number.isFinite(retryAfterMs) ? retryAfterMs : undefined;
    if (rejectEvent.active) {
      rejectEvent.emit({ event: 'reject', name, pipeline: ctx.pipeline, cost, retryAfterMs: known });
    }
    throw new RateLimitedError(
      known === undefined
        ? `Rate limit "${name}": a cost of ${cost} can never pass`
        : `Rate limit "${name}": over the rate; would pass in ${Math.ceil(known)} ms`,
      { policy: name, retryAfterMs: known, quota },
    );
  }

  /** Waits for a turn the limiter reserved; a caller that gives up hands its tokens back. */
  async function waitReserved(ctx: ExecutionContext, cost: number, waitMs: number): Promise<void> {
    try {
      await sleep(clock, waitMs, ctx);
    } catch (error) {
      limiter.refund?.(cost, clock.now());
      throw error;
    }
  }

  /** Waits and asks again, for limiters that cannot reserve, until the call passes or would wait too long. */
  async function waitAndRetry(ctx: ExecutionContext, cost: number, retryAfterMs: number): Promise<void> {
    const until = clock.now() + maxWaitMs;
    let wait = retryAfterMs;
    for (;;) {
      await sleep(clock, wait, ctx);
      const result = checked(name, await limiter.tryAcquire(cost, clock.now()));
      if (result.ok) {
        if (result.quota !== undefined) ctx.rateLimit = result.quota;
        return;
      }
      if (clock.now() + result.retryAfterMs > until) refuse(ctx, cost, result.retryAfterMs, result.quota);
      wait = result.retryAfterMs;
    }
  }

  async function slow(
    ctx: ExecutionContext,
    next: Runner,
    cost: number,
    pending: PromiseLike<LimiterResult>,
  ) {
    const result = checked(name, await pending);
    if (result.ok) {
      if (result.quota !== undefined) ctx.rateLimit = result.quota;
    } else await afterRefusal(ctx, cost, result);
    return next(ctx);
  }

  function afterRefusal(
    ctx: ExecutionContext,
    cost: number,
    refusal: { retryAfterMs: number; quota?: RateLimitQuota | undefined },
  ): Promise<void> {
    const { retryAfterMs } = refusal;
    const deadlineLeft = ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline - clock.now();
    if (retryAfterMs > Math.min(maxWaitMs, deadlineLeft)) refuse(ctx, cost, retryAfterMs, refusal.quota);
    return waitAndRetry(ctx, cost, retryAfterMs);
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    try {
      const cost = costOf(ctx);
      const now = clock.now();
      if (maxWaitMs > 0 && limiter.reserve !== undefined) {
        const deadlineLeft = ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline - now;
        const reserved = limiter.reserve(cost, now, Math.min(maxWaitMs, deadlineLeft));
        if (!reserved.ok) refuse(ctx, cost, reserved.retryAfterMs);
        if (reserved.waitMs === 0) return next(ctx);
        return waitReserved(ctx, cost, reserved.waitMs).then(() => next(ctx));
      }
      const answer = limiter.tryAcquire(cost, now);
      if (typeof (answer as PromiseLike<LimiterResult>).then === 'function') {
        return slow(ctx, next, cost, answer as PromiseLike<LimiterResult>);
      }
      const result = checked(name, answer);
      if (result.ok) {
        if (result.quota !== undefined) ctx.rateLimit = result.quota;
        return next(ctx);
      }
      return afterRefusal(ctx, cost, result).then(() => next(ctx));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  return createPolicy(
    { name, kind: 'rate-limit', run: run as never },
    {
      trusted: true,
      now: () => clock.now(),
      api: { onReject: (listener: Listener<RateLimitRejectEvent>) => rejectEvent.on(listener) },
    },
  );
}
