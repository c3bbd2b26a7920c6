import { RateLimitedError, rateLimit, StoreUnavailableError } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisRateLimiter } from './rate-limiter.js';
import { cleanup, connect, uniquePrefix, unreachableClient } from './test-redis.js';

let client: Redis;
const prefix = uniquePrefix('rate-limiter');

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  await cleanup(client, prefix);
  client.disconnect();
});

describe('redisRateLimiter', () => {
  it('lets a burst through, then refuses with the ms until the next call would pass', async () => {
    const limiter = redisRateLimiter({ client, prefix, ratePerSec: 10, burst: 3, key: 'burst' });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await limiter.tryAcquire(1));
    expect(answers.slice(0, 3).map((a) => a.ok)).toEqual([true, true, true]);
    expect(answers[3]!.ok).toBe(false);
    // Each answer tells the quota: the burst over the time it takes to fill, what is left, when it is full.
    expect(answers.map((a) => a.quota?.remaining)).toEqual([2, 1, 0, 0]);
    expect(answers[0]!.quota).toMatchObject({ limit: 3, windowMs: 300 });
    expect(answers[2]!.quota!.resetMs).toBeGreaterThan(200);
    expect(answers[2]!.quota!.resetMs).toBeLessThanOrEqual(300);
    const wait = (answers[3] as { retryAfterMs: number }).retryAfterMs;
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(100); // one interval at 10/s
  });

  it('shares one limit between limiters (processes) on the same key, apart per key', async () => {
    const a = redisRateLimiter({ client, prefix, ratePerSec: 1, burst: 2, key: 'shared' });
    const other = await connect();
    const b = redisRateLimiter({ client: other, prefix, ratePerSec: 1, burst: 2, key: 'shared' });
    expect((await a.tryAcquire(1)).ok).toBe(true);
    expect((await b.tryAcquire(1)).ok).toBe(true);
    expect((await a.tryAcquire(1)).ok).toBe(false);
    expect((await b.tryAcquire(1)).ok).toBe(false);
    expect((await b.forKey('tenant-2').tryAcquire(1)).ok).toBe(true);
    other.disconnect();
  });

  it('charges a call its cost, and refuses a cost above the burst with when it would pass', async () => {
    const limiter = redisRateLimiter({ client, prefix, ratePerSec: 100, burst: 5, key: 'cost' });
    expect(await limiter.tryAcquire(5)).toMatchObject({ ok: true, quota: { limit: 5, remaining: 0 } });
    const refused = await limiter.tryAcquire(2);
    expect(refused.ok).toBe(false);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(20);
  });

  it('works as the limiter of rateLimit: RateLimitedError with retryAfterMs', async () => {
    const policy = rateLimit({ limiter: redisRateLimiter({ client, prefix, ratePerSec: 1, key: 'policy' }) });
    expect(await policy.execute(async () => 'first')).toBe('first');
    const error = await policy.execute(async () => 'second').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
  });

  it('fails closed by default when Redis is unreachable, open with failOpen', async () => {
    const down = unreachableClient();
    const closed = rateLimit({
      limiter: redisRateLimiter({ client: down, prefix, ratePerSec: 1, operationTimeoutMs: 200 }),
    });
    let ran = false;
    const error = await closed
      .execute(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(ran).toBe(false);
    const open = rateLimit({
      limiter: redisRateLimiter({
        client: down,
        prefix,
        ratePerSec: 1,
        failOpen: true,
        operationTimeoutMs: 200,
      }),
    });
    expect(await open.execute(async () => 'through')).toBe('through');
    down.disconnect();
  });

  it('validates its options', () => {
    expect(() => redisRateLimiter({ client, ratePerSec: 0 })).toThrow(/"ratePerSec"/);
    expect(() => redisRateLimiter({ client, ratePerSec: 1, burst: 0.5 })).toThrow(/"burst"/);
    expect(() => redisRateLimiter({ client, ratePerSec: 1, failOpen: 'yes' as never })).toThrow(/"failOpen"/);
  });
});
