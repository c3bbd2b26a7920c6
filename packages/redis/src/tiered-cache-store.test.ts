import { cache, memoryCacheStore } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBus } from './bus.js';
import { redisCacheStore } from './cache-store.js';
import { cleanup, connect, uniquePrefix, unreachableClient } from './test-redis.js';
import { tieredCacheStore } from './tiered-cache-store.js';

let client: Redis;
const prefix = uniquePrefix('tiered');
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  for (const close of closers) await close();
  await cleanup(client, prefix);
  client.disconnect();
});

/** One application instance: its own L1, the shared L2 and bus. */
async function instance() {
  const bus = redisBus({ client, prefix });
  const l1 = memoryCacheStore();
  const store = tieredCacheStore({ l1, l2: redisCacheStore({ client, prefix }), bus });
  closers.push(
    () => store.close(),
    () => bus.close(),
  );
  expect(await store.ready()).toBe(true);
  return { l1, store, policy: cache({ store, ttlMs: 60_000 }) };
}

/** Resolves once a message has had time to cross pub/sub: polls the condition, bounded. */
async function eventually(condition: () => boolean, what = '', ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`not in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('tieredCacheStore', () => {
  it('answers from L1 without a round trip, and fills L1 from L2', async () => {
    const a = await instance();
    const b = await instance();
    await a.policy.execute(async () => 'v1', { key: 'k' });
    expect(a.l1.get('k')?.value).toBe('v1');
    expect(b.l1.get('k')).toBeUndefined();
    expect(await b.policy.execute(async () => 'not loaded', { key: 'k' })).toBe('v1'); // from L2
    expect(b.l1.get('k')?.value).toBe('v1');
    expect(b.store.get('k')).toMatchObject({ value: 'v1' }); // a synchronous L1 hit: no promise
  });

  it("keeps every instance's L1 coherent on set, delete and tag invalidation", async () => {
    const a = await instance();
    const b = await instance();
    await Promise.all([a, b].map((x) => x.policy.execute(async () => 'old', { key: 'c' })));
    await a.policy.set('c', 'new', { tags: ['group'] });
    await eventually(() => b.l1.get('c') === undefined, 'set reaches b');
    expect(await b.policy.execute(async () => 'not loaded', { key: 'c' })).toBe('new');
    await b.policy.delete('c');
    await eventually(() => a.l1.get('c') === undefined, 'delete reaches a');
    await a.policy.set('g', 'tagged', { tags: ['group'] });
    await b.policy.get('g');
    expect(b.l1.get('g')).toBeDefined();
    await a.policy.invalidateTag('group');
    await eventually(() => b.l1.get('g') === undefined, 'tag reaches b');
    expect(await b.policy.get('g')).toBeUndefined();
  });

  it('serves from L1 while Redis is unreachable, and goes to the origin for the rest, saying so', async () => {
    const down = unreachableClient();
    const l1 = memoryCacheStore();
    const store = tieredCacheStore({
      l1,
      l2: redisCacheStore({ client: down, prefix, operationTimeoutMs: 200 }),
    });
    const policy = cache({ store, ttlMs: 60_000 });
    const errors: string[] = [];
    policy.onStoreError(({ operation, key }) => errors.push(`${operation} ${key}`));
    const now = Date.now();
    l1.set('near', {
      value: 'from L1',
      createdAt: now,
      freshUntil: now + 60_000,
      staleUntil: now + 60_000,
      loadMs: 1,
      tags: [],
      negative: false,
    });
    expect(await policy.execute(async () => 'origin', { key: 'near' })).toBe('from L1');
    expect(await policy.execute(async () => 'origin', { key: 'far' })).toBe('origin');
    expect(errors).toEqual(['get far', 'set far']);
    expect(await policy.execute(async () => 'origin again', { key: 'far' })).toBe('origin'); // kept in L1
    down.disconnect();
  });

  it('validates its options, and the bus its own', () => {
    expect(() => tieredCacheStore({ l1: {} as never, l2: redisCacheStore({ client, prefix }) })).toThrow(
      /"l1"/,
    );
    expect(() => tieredCacheStore({ l1: memoryCacheStore(), l2: {} as never })).toThrow(/"l2"/);
    expect(() => redisBus({ client, prefix, channel: '' })).toThrow(/redisBus: option "channel"/);
  });
});
