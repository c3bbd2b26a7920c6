import { describe, expect, it } from 'vitest';
import { isBreakwaterError, RateLimitedError } from '../errors/errors.js';
import { limits } from '../limits/index.js';
import { createFakeClock } from '../testing/fake-clock.js';
import type { Limiter } from './options.js';
import { rateLimit } from './rate-limit.js';

describe('limits.tokenBucket', () => {
  it('lets a burst through, then one call per 1/ratePerSec, saying when the next would pass', () => {
    const bucket = limits.tokenBucket({ ratePerSec: 10, burst: 3 });
    expect([1, 2, 3].map(() => bucket.tryAcquire(1, 0).ok)).toEqual([true, true, true]);
    expect(bucket.tryAcquire(1, 0)).toMatchObject({ ok: false, retryAfterMs: 100 });
    expect(bucket.tryAcquire(1, 60)).toMatchObject({ ok: false, retryAfterMs: 40 });
    expect(bucket.tryAcquire(1, 100).ok).toBe(true);
    expect(bucket.tryAcquire(1, 10_000).ok).toBe(true); // refilled, but never past the burst
    expect(bucket.tokens(10_000)).toBe(2);
  });

  it('tells its quota with each answer: burst, the time to fill, what is left and when it is full', () => {
    const bucket = limits.tokenBucket({ ratePerSec: 10, burst: 5 });
    expect(bucket.tryAcquire(1, 0)).toEqual({
      ok: true,
      quota: { limit: 5, windowMs: 500, remaining: 4, resetMs: 100 },
    });
    expect(bucket.tryAcquire(4, 0)).toMatchObject({ ok: true, quota: { remaining: 0, resetMs: 500 } });
    expect(bucket.tryAcquire(1, 50)).toEqual({
      ok: false,
      retryAfterMs: 50,
      quota: { limit: 5, windowMs: 500, remaining: 0, resetMs: 450 },
    });
  });

  it('keeps one bucket per key with forKey, the least recently used dropped past maxKeys', () => {
    const root = limits.tokenBucket({ ratePerSec: 1, burst: 1, maxKeys: 2 });
    expect(root.forKey('a').tryAcquire(1, 0).ok).toBe(true);
    expect(root.forKey('a').tryAcquire(1, 0).ok).toBe(false); // a's bucket, kept
    expect(root.forKey('b').tryAcquire(1, 0).ok).toBe(true); // b has its own
    expect(root.tryAcquire(1, 0).ok).toBe(true); // and the root bucket is a third
    expect(root.forKey('a').forKey('b')).toBe(root.forKey('b')); // keys of one family
    root.forKey('c'); // a was used last before b: a is dropped
    expect(root.forKey('b').tryAcquire(1, 0).ok).toBe(false);
    expect(root.forKey('a').tryAcquire(1, 0).ok).toBe(true); // a new, full bucket
  });

  it('validates its options', () => {
    expect(() => limits.tokenBucket({ ratePerSec: 0 })).toThrow(/limits.tokenBucket: option "ratePerSec"/);
    expect(() => limits.tokenBucket({ ratePerSec: 5, burst: -1 })).toThrow(/"burst"/);
    expect(() => limits.tokenBucket({ ratePerSec: 5, maxKeys: 0 })).toThrow(/"maxKeys"/);
    expect(() => limits.tokenBucket({ ratePerSec: 5 }).forKey(1 as never)).toThrow(
      /forKey\(key\) needs a string/,
    );
  });

  it('gives the handler the quota it was admitted under (ctx.rateLimit) and the error the one it was refused under', async () => {
    const clock = createFakeClock();
    const policy = rateLimit({ limiter: limits.tokenBucket({ ratePerSec: 1, burst: 2 }), clock });
    await expect(policy.execute((ctx) => ctx.rateLimit)).resolves.toEqual({
      limit: 2,
      windowMs: 2_000,
      remaining: 1,
      resetMs: 1_000,
    });
    await policy.execute(() => undefined);
    const refused = await policy.execute(() => undefined).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).quota).toMatchObject({ limit: 2, remaining: 0, resetMs: 2_000 });
  });
});

describe('rateLimit', () => {
  it('refuses at once over the rate with RateLimitedError and the retryAfterMs it would pass at', async () => {
    const clock = createFakeClock();
    const policy = rateLimit({ limiter: limits.tokenBucket({ ratePerSec: 2, burst: 1 }), clock });
    await expect(policy.execute(() => 'first')).resolves.toBe('first');
    let called = false;
    const error = await policy
      .execute(() => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(isBreakwaterError(error) && error.code).toBe('BW_RATE_LIMITED');
    expect((error as RateLimitedError).retryAfterMs).toBe(500);
    expect(called).toBe(false);
    await clock.advance(500);
    await expect(policy.execute(() => 'again')).resolves.toBe('again');
  });

  it('lets waiters through in turn, each after exactly its wait, within maxWaitMs', async () => {
    const clock = createFakeClock();
    const policy = rateLimit({
      limiter: limits.tokenBucket({ ratePerSec: 10, burst: 1 }),
      maxWaitMs: 250,
      clock,
    });
    const started: number[] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      policy
        .execute(() => {
          started.push(clock.now());
          return i;
        })
        .catch((e: unknown) => e),
    );
    await clock.advance(300);
    const results = await Promise.all(calls);
    expect(started).toEqual([0, 100, 200]);
    expect(results.slice(0, 3)).toEqual([0, 1, 2]);
    expect(results[3]).toBeInstanceOf(RateLimitedError); // would have waited 300 ms
  });

  it('gives a waiter that gives up its tokens back', async () => {
    const clock = createFakeClock();
    const bucket = limits.tokenBucket({ ratePerSec: 10, burst: 1 });
    const policy = rateLimit({ limiter: bucket, maxWaitMs: 1_000, clock });
    await policy.execute(() => 'takes the token');
    const controller = new AbortController();
    const waiting = policy.execute(() => 'never', { signal: controller.signal });
    expect(bucket.tokens(0)).toBe(-1); // reserved on credit
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    expect(bucket.tokens(0)).toBe(0);
  });

  it('takes its cost from the context, and refuses a cost that can never pass', async () => {
    const policy = rateLimit({
      limiter: limits.tokenBucket({ ratePerSec: 10, burst: 5 }),
      cost: (ctx) => (ctx.priority === 'critical' ? 1 : 10),
    });
    await expect(policy.execute(() => 'cheap', { priority: 'critical' })).resolves.toBe('cheap');
    const error = (await policy.execute(() => 'dear').catch((e: unknown) => e)) as RateLimitedError;
    expect(error.retryAfterMs).toBeUndefined();
    expect(error.message).toMatch(/a cost of 10 can never pass/);
  });

  it('never waits past the deadline', async () => {
    const clock = createFakeClock();
    const policy = rateLimit({
      limiter: limits.tokenBucket({ ratePerSec: 1, burst: 1 }),
      maxWaitMs: 5_000,
      clock,
    });
    await policy.execute(() => 1);
    await expect(policy.execute(() => 2, { deadline: 500 })).rejects.toBeInstanceOf(RateLimitedError);
  });

  it("works with an async limiter, and a limiter's fault or nonsense never lets a call through or wedges it", async () => {
    const clock = createFakeClock();
    let answer: unknown = { ok: true };
    const custom: Limiter = {
      tryAcquire: async () => {
        if (answer instanceof Error) throw answer;
        return answer as { ok: true };
      },
    };
    const policy = rateLimit({ limiter: custom, clock, maxWaitMs: 100 });
    await expect(policy.execute(() => 'async ok')).resolves.toBe('async ok');
    answer = new Error('limiter down');
    await expect(policy.execute(() => 'never')).rejects.toThrow('limiter down');
    answer = { ok: 'maybe' };
    await expect(policy.execute(() => 'never')).rejects.toThrow(/the limiter answered \{"ok":"maybe"\}/);
    answer = { ok: false, retryAfterMs: 50 };
    const waiting = policy.execute(() => 'after the wait');
    await clock.advance(50);
    answer = { ok: true };
    await clock.advance(50);
    await expect(waiting).resolves.toBe('after the wait');
  });

  it('validates its options, naming them', () => {
    expect(() => rateLimit({} as never)).toThrow(/rateLimit: option "limiter" must be a limiter/);
    expect(() => rateLimit({ limiter: limits.tokenBucket({ ratePerSec: 1 }), maxWaitMs: -1 })).toThrow(
      /"maxWaitMs"/,
    );
    expect(() => rateLimit({ limiter: limits.tokenBucket({ ratePerSec: 1 }), cost: 'one' as never })).toThrow(
      /"cost"/,
    );
  });
});
