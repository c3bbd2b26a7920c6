import { RateLimitedError, rateLimit, StoreUnavailableError } from '@breakwater/core';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bottleneckLimiter } from './bottleneck-limiter.js';
import { connect, REDIS_URL, uniquePrefix } from './test-redis.js';

const id = uniquePrefix('bottleneck');
const limiters: Bottleneck[] = [];
const { hostname, port } = new URL(REDIS_URL);
/** A Bottleneck clustered on the real Redis, sharing state with every other one of the same id. */
const clustered = () => {
  const b = new Bottleneck({
    id,
    datastore: 'ioredis',
    Redis,
    clientOptions: { host: hostname, port: Number(port || 6379) },
    reservoir: 2,
    maxConcurrent: null,
  });
  limiters.push(b);
  return b;
};

beforeAll(async () => {
  (await connect()).disconnect(); // fails, saying how to start Redis, when there is none
});
afterAll(async () => {
  for (const b of limiters) await b.disconnect(false);
});

describe('bottleneckLimiter', () => {
  it("enforces a Bottleneck clustered on Redis, shared between instances, as rateLimit's limiter", async () => {
    const a = clustered();
    const b = clustered();
    await Promise.all([a.ready(), b.ready()]);
    const one = rateLimit({ limiter: bottleneckLimiter(a) });
    const two = rateLimit({ limiter: bottleneckLimiter(b, { retryAfterMs: 250 }) });
    expect(await one.execute(async () => 'first')).toBe('first');
    expect(await two.execute(async () => 'second')).toBe('second');
    const refused = await two.execute(async () => 'third').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterMs).toBe(250);
  });

  it('refuses (fail closed) when Bottleneck fails, lets calls through with failOpen', async () => {
    const broken = {
      check: () => Promise.reject(new Error('Redis connection lost')),
      schedule: () => Promise.reject(new Error('Redis connection lost')),
    } as unknown as Bottleneck;
    let ran = false;
    const closed = await rateLimit({ limiter: bottleneckLimiter(broken) })
      .execute(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(StoreUnavailableError);
    expect(ran).toBe(false);
    expect(
      await rateLimit({ limiter: bottleneckLimiter(broken, { failOpen: true }) }).execute(async () => 'open'),
    ).toBe('open');
    expect(() => bottleneckLimiter({} as never)).toThrow(/must be a Bottleneck/);
  });
});
