import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisLocks } from './locks.js';
import { cleanup, connect, uniquePrefix } from './test-redis.js';

let client: Redis;
const prefix = uniquePrefix('locks');
const providers: { close(): Promise<void> }[] = [];
const locks = () => {
  const p = redisLocks({ client, prefix });
  providers.push(p);
  return p;
};

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  for (const p of providers) await p.close();
  await cleanup(client, prefix);
  client.disconnect();
});

describe('redisLocks', () => {
  it('grants one owner at a time with fencing tokens that only grow', async () => {
    const one = locks();
    const two = locks();
    const a = await one.acquire('k', { leaseMs: 10_000 });
    expect(a).toBeDefined();
    expect(await two.acquire('k', { leaseMs: 10_000 })).toBeUndefined();
    expect(await a!.release()).toBe(true);
    const b = await two.acquire('k', { leaseMs: 10_000 });
    expect(b!.token).toBeGreaterThan(a!.token);
    expect(await a!.release()).toBe(false); // a stale owner never frees another's lock
    expect(await a!.extend(10_000)).toBe(false);
    expect(await b!.extend(20_000)).toBe(true);
    expect(await client.pttl(`${prefix}:l:k`)).toBeGreaterThan(10_000);
    await b!.release();
  });

  it('wakes a waiter over pub/sub when the owner releases, long before the lease would end', async () => {
    const one = locks();
    const two = locks();
    const a = await one.acquire('w', { leaseMs: 30_000 });
    const waiting = two.acquire('w', { leaseMs: 30_000, waitMs: 20_000 });
    setTimeout(() => void a!.release(), 50);
    const started = Date.now();
    const b = await waiting;
    expect(b).toBeDefined();
    expect(Date.now() - started).toBeLessThan(10_000); // woken by the release, not by the lease
    await b!.release();
  });

  it("takes over a crashed owner's lock when its lease runs out (Redis's clock)", async () => {
    const one = locks();
    const two = locks();
    const crashed = await one.acquire('c', { leaseMs: 150 });
    expect(crashed).toBeDefined();
    const b = await two.acquire('c', { leaseMs: 10_000, waitMs: 5_000 });
    expect(b).toBeDefined();
    expect(b!.token).toBeGreaterThan(crashed!.token);
    expect(await crashed!.release()).toBe(false);
    await b!.release();
  });

  it('gives up after waitMs, stops on an abort, and validates', async () => {
    const one = locks();
    const held = await one.acquire('g', { leaseMs: 30_000 });
    expect(await one.acquire('g', { leaseMs: 1_000, waitMs: 100 })).toBeUndefined();
    const controller = new AbortController();
    const waiting = one.acquire('g', { leaseMs: 1_000, waitMs: 20_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('gave up')), 20);
    await expect(waiting).rejects.toThrow('gave up');
    await expect(one.acquire('g', { leaseMs: 0 })).rejects.toThrow(/leaseMs/);
    await held!.release();
  });
});
