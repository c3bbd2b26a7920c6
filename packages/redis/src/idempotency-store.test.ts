import {
  IdempotencyConflictError,
  IdempotencyMismatchError,
  idempotency,
  StoreUnavailableError,
} from '@breakwater/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisIdempotencyStore } from './idempotency-store.js';
import { cleanup, connect, REDIS_URL, uniquePrefix } from './test-redis.js';

let client: Redis;
const prefix = uniquePrefix('idempotency-store');
const stores: { close(): Promise<void> }[] = [];
const makeStore = (extra: { maxResultBytes?: number } = {}) => {
  const store = redisIdempotencyStore({ client, prefix, ...extra });
  stores.push(store);
  return store;
};

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await cleanup(client, prefix);
  client.disconnect();
});

describe('redisIdempotencyStore', () => {
  it('runs once, replays to duplicates, refuses another fingerprint', async () => {
    const policy = idempotency({ store: makeStore() });
    let n = 0;
    const charge = async () => ({ id: `ch_${++n}`, amount: 500 });
    const opts = { idempotencyKey: 'order-1', fingerprint: 'f1' };
    expect(await policy.execute(charge, opts)).toEqual({ id: 'ch_1', amount: 500 });
    expect(await policy.execute(charge, opts)).toEqual({ id: 'ch_1', amount: 500 });
    await expect(
      policy.execute(charge, { idempotencyKey: 'order-1', fingerprint: 'f2' }),
    ).rejects.toBeInstanceOf(IdempotencyMismatchError);
    expect(n).toBe(1);
    const pttl = await client.pttl(`${prefix}:i:order-1`);
    expect(pttl).toBeGreaterThan(86_000_000); // kept for ttlMs (24 h)
  });

  it("replays a stored failure with saveOn 'started', as an Error with its name, message, code and status", async () => {
    const policy = idempotency({ store: makeStore(), saveOn: 'started' });
    const fail = async () => {
      throw Object.assign(new TypeError('card declined'), { code: 'E_DECLINED', status: 402 });
    };
    await expect(policy.execute(fail, { idempotencyKey: 'declined' })).rejects.toThrow('card declined');
    const replayed = (await policy
      .execute(async () => 'ran', { idempotencyKey: 'declined' })
      .catch((e: unknown) => e)) as Error & {
      code: string;
      status: number;
      replayed: boolean;
    };
    expect(replayed).toBeInstanceOf(Error);
    expect([replayed.name, replayed.message, replayed.code, replayed.status, replayed.replayed]).toEqual([
      'TypeError',
      'card declined',
      'E_DECLINED',
      402,
      true,
    ]);
  });

  it("takes over a crashed holder's key when its lease lapses on Redis's clock, waking the waiter", async () => {
    const store = makeStore();
    const crashed = await store.begin('crash', { fingerprint: '', leaseMs: 150 });
    expect(crashed.status).toBe('claimed');
    const policy = idempotency({ store, wait: { maxMs: 5_000 } });
    expect(await policy.execute(async () => 'took over', { idempotencyKey: 'crash' })).toBe('took over');
    if (crashed.status === 'claimed')
      expect(await store.complete('crash', crashed.token, { ok: true, value: 'x' }, 1_000)).toBe(false);
  });

  it('owner-checks complete, release and extend', async () => {
    const store = makeStore();
    const claim = await store.begin('own', { fingerprint: 'f', leaseMs: 10_000 });
    if (claim.status !== 'claimed') throw new Error('expected a claim');
    expect(await store.extend('own', claim.token + 1, 10_000)).toBe(false);
    expect(await store.release('own', claim.token + 1)).toBe(false);
    expect(await store.extend('own', claim.token, 20_000)).toBe(true);
    expect(await client.pttl(`${prefix}:i:own`)).toBeGreaterThan(10_000);
    expect(await store.release('own', claim.token)).toBe(true);
    expect((await store.begin('own', { fingerprint: 'f', leaseMs: 10_000 })).status).toBe('claimed');
  });

  it('refuses a result over maxResultBytes rather than store it cut short', async () => {
    const store = makeStore({ maxResultBytes: 100 });
    const claim = await store.begin('big', { fingerprint: '', leaseMs: 10_000 });
    if (claim.status !== 'claimed') throw new Error('expected a claim');
    await expect(
      store.complete('big', claim.token, { ok: true, value: 'x'.repeat(200) }, 1_000),
    ).rejects.toThrow(/over maxResultBytes \(100\); not stored/);
    expect(await client.hget(`${prefix}:i:big`, 's')).toBe('r');
  });

  it('fails closed on a foreign record: the call is not run', async () => {
    await client.set(`${prefix}:i:foreign`, 'not a record');
    const policy = idempotency({ store: makeStore() });
    let ran = false;
    const error = await policy
      .execute(
        async () => {
          ran = true;
        },
        { idempotencyKey: 'foreign' },
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(ran).toBe(false);
  });

  it('never runs a duplicate when the holder loses its connection mid-call: refused until the lease lapses, then run once', async () => {
    const holderClient = new Redis(REDIS_URL, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    holderClient.on('error', () => {});
    await new Promise((resolve) => holderClient.once('ready', resolve));
    const holderStore = redisIdempotencyStore({ client: holderClient, prefix });
    stores.push(holderStore);
    const holder = idempotency({ store: holderStore, leaseMs: 300 });
    const other = makeStore();
    let runs = 0;
    const first = await holder.execute(
      async () => {
        runs++;
        holderClient.disconnect(); // the connection dies while the work runs: its result cannot be stored
        return 'done';
      },
      { idempotencyKey: 'killed' },
    );
    expect(first).toBe('done');
    await expect(
      idempotency({ store: other }).execute(async () => runs++, { idempotencyKey: 'killed' }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    // A duplicate willing to wait is woken when the lease lapses on Redis's clock, and runs once.
    expect(
      await idempotency({ store: other, wait: { maxMs: 5_000 } }).execute(async () => `run ${++runs}`, {
        idempotencyKey: 'killed',
      }),
    ).toBe('run 2');
  });
});
