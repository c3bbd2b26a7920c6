import { type CacheEntry, cache } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisCacheStore } from './cache-store.js';
import { cleanup, connect, keysUnder, uniquePrefix } from './test-redis.js';

let client: Redis;
const prefix = uniquePrefix('cache-store');

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  await cleanup(client, prefix);
  client.disconnect();
});

const entry = (value: unknown, over: Partial<CacheEntry> = {}): CacheEntry => ({
  value,
  createdAt: Date.now(),
  freshUntil: Date.now() + 60_000,
  staleUntil: Date.now() + 120_000,
  loadMs: 3,
  tags: [],
  negative: false,
  ...over,
});

describe('redisCacheStore', () => {
  it('serves a cache policy across instances: one load, then hits from Redis', async () => {
    const store = redisCacheStore({ client, prefix });
    let loads = 0;
    const a = cache({ store, ttlMs: 60_000 });
    const b = cache({ store, ttlMs: 60_000 });
    const fn = async () => ({ n: ++loads, at: 'origin' });
    expect(await a.execute(fn, { key: 'user:1' })).toEqual({ n: 1, at: 'origin' });
    expect(await b.execute(fn, { key: 'user:1' })).toEqual({ n: 1, at: 'origin' });
    expect(loads).toBe(1);
  });

  it("expires an entry on Redis's clock at its staleUntil", async () => {
    const store = redisCacheStore({ client, prefix });
    const now = Date.now();
    await store.set('ttl', entry('v', { createdAt: now, freshUntil: now + 1_000, staleUntil: now + 5_000 }));
    const pttl = await client.pttl(`${prefix}:c:ttl`);
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });

  it('drops tagged entries on invalidateTag, in one script', async () => {
    const store = redisCacheStore({ client, prefix });
    await store.set('t1', entry(1, { tags: ['team:7'] }));
    await store.set('t2', entry(2, { tags: ['team:7', 'other'] }));
    await store.set('t3', entry(3, { tags: ['other'] }));
    await store.invalidateTag('team:7');
    expect(await store.get('t1')).toBeUndefined();
    expect(await store.get('t2')).toBeUndefined();
    expect((await store.get('t3'))?.value).toBe(3);
  });

  it('never lets a lower fence overwrite a higher one', async () => {
    const store = redisCacheStore({ client, prefix });
    await store.set('f', entry('newer', { fence: 10 }));
    await store.set('f', entry('lapsed owner', { fence: 9 }));
    expect((await store.get('f'))?.value).toBe('newer');
    await store.set('f', entry('next owner', { fence: 11 }));
    expect((await store.get('f'))?.value).toBe('next owner');
  });

  it('reads a foreign or corrupt record as a miss, reported, never returned', async () => {
    const store = redisCacheStore({ client, prefix });
    await client.set(`${prefix}:c:foreign`, 'a plain string'); // wrong type
    await client.hset(`${prefix}:c:corrupt`, 'd', '{not json');
    await client.hset(`${prefix}:c:shape`, 'd', JSON.stringify({ value: 1 }));
    const policy = cache({ store, ttlMs: 60_000 });
    const errors: string[] = [];
    policy.onStoreError(({ key }) => errors.push(String(key)));
    for (const key of ['foreign', 'corrupt', 'shape']) {
      expect(await policy.execute(async () => `origin ${key}`, { key })).toBe(`origin ${key}`);
    }
    expect(errors).toEqual(['foreign', 'corrupt', 'shape']);
    expect(await policy.execute(async () => 'again', { key: 'corrupt' })).toBe('origin corrupt');
  });

  it('keeps keys with the separator, *, newlines and 4 KiB of bytes inside the prefix', async () => {
    const store = redisCacheStore({ client, prefix, maxKeyBytes: 8_192 });
    const policy = cache({ store, ttlMs: 60_000, maxKeyBytes: 8_192 });
    const nasty = [':', `${prefix}:c:x`, '*', '*:*', 'a\nb\r\nc', '\u0000bin', 'é'.repeat(2_048)];
    for (const key of nasty) expect(await policy.execute(async () => key, { key })).toBe(key);
    for (const key of nasty) expect(await policy.get(key)).toBe(key);
    const all = await keysUnder(client, '*');
    const ours = all.filter((k) => k.includes('bin') || k.includes('a\nb') || k.endsWith('*'));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
    await store.invalidateTag('*'); // a tag named like a pattern matches only itself
    expect(await policy.get('*')).toBe('*');
  });

  it('refuses keys that are empty, over maxKeyBytes or not strings, before any round trip', async () => {
    const store = redisCacheStore({ client, prefix });
    await expect(store.get('')).rejects.toThrow(/must not be empty/);
    await expect(store.get('x'.repeat(1_025))).rejects.toThrow(/at most 1024 bytes/);
    await expect(store.delete(7 as never)).rejects.toThrow(/must be a string/);
    expect(await store.get('x'.repeat(1_024))).toBeUndefined();
  });

  it('validates its options', () => {
    expect(() => redisCacheStore({ client: {} as never })).toThrow(
      /option "client" must be an ioredis client/,
    );
    expect(() => redisCacheStore({ client, prefix: '' })).toThrow(/"prefix"/);
    expect(() => redisCacheStore({ client, ttl: 1 } as never)).toThrow(/unknown option "ttl"/);
  });
});
