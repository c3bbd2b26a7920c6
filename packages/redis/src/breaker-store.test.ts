import { execFile } from 'node:child_process';
import { breakers, CircuitOpenError, circuitBreaker } from '@breakwater/core';
import { createFakeClock } from '@breakwater/core/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisBreakerStore, redisBreakerStore } from './breaker-store.js';
import { cleanup, connect, uniquePrefix } from './test-redis.js';

const fail = () => Promise.reject(new Error('down'));
const clients: Redis[] = [];
const stores: RedisBreakerStore[] = [];
let admin: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  admin = await connect();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const c of clients) c.disconnect();
  for (const p of prefixes) await cleanup(admin, p);
  admin.disconnect();
});

/** Instances that share nothing but Redis: each its own connection and store. */
async function cluster(n: number, prefix: string, clock = createFakeClock({ now: Date.now() })) {
  const instances = [];
  for (let i = 0; i < n; i++) {
    const client = await connect();
    clients.push(client);
    const store = redisBreakerStore({ client, prefix });
    stores.push(store);
    instances.push(
      circuitBreaker({
        name: 'payments',
        breaker: breakers.consecutive(2),
        halfOpenAfterMs: 1_000,
        store,
        clock,
      }),
    );
  }
  // Let every subscription come up before the first transition.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { instances, clock };
}

async function eventually(condition: () => boolean, what: string): Promise<void> {
  const until = Date.now() + 3_000;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`not in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('redisBreakerStore', () => {
  it('shares an opening between instances over Redis: every instance refuses calls', async () => {
    const prefix = uniquePrefix('breaker-open');
    prefixes.push(prefix);
    const { instances } = await cluster(3, prefix);
    const [a, , c] = instances;
    await a!.execute(fail).catch(() => {});
    await a!.execute(fail).catch(() => {});
    await eventually(() => instances.every((i) => i.state === 'open'), 'all open');
    await expect(c!.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('lets one instance cluster-wide run the half-open trial (a Redis lease), and shares its result', async () => {
    const prefix = uniquePrefix('breaker-trial');
    prefixes.push(prefix);
    const { instances, clock } = await cluster(3, prefix);
    const [a, b, c] = instances;
    await a!.execute(fail).catch(() => {});
    await a!.execute(fail).catch(() => {});
    await eventually(() => instances.every((i) => i.state === 'open'), 'all open');
    await clock.advance(1_000);
    let finish!: (v: string) => void;
    const trial = b!.execute(() => new Promise<string>((resolve) => (finish = resolve)));
    await eventually(() => finish !== undefined, 'trial started');
    const others = await Promise.all(
      [a!, c!].map((i) => i.execute(() => 'not a trial').catch((e: unknown) => e)),
    );
    expect(others.every((e) => e instanceof CircuitOpenError)).toBe(true);
    finish('trial ok');
    await expect(trial).resolves.toBe('trial ok');
    await eventually(() => instances.every((i) => i.state === 'closed'), 'all closed');
  });

  it('shares a circuit between three breakers in three processes: one opens it, the other two refuse calls', async () => {
    const prefix = uniquePrefix('breaker-process');
    prefixes.push(prefix);
    const child = new URL('./test-child.ts', import.meta.url).pathname;
    const spawnChild = (role: 'open' | 'watch') =>
      execFile(process.execPath, ['--import', 'tsx', child, 'breaker', prefix, role], { timeout: 20_000 });
    const watchers = [spawnChild('watch'), spawnChild('watch')];
    // Open only once both watchers are up and subscribed.
    await Promise.all(watchers.map((w) => new Promise((resolve) => w.stderr!.once('data', resolve))));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const outputs = await Promise.all(
      [spawnChild('open'), ...watchers].map(
        (p) =>
          new Promise<unknown>((resolve, reject) => {
            let out = '';
            p.stdout!.on('data', (chunk: Buffer) => {
              out += chunk.toString();
            });
            p.on('exit', (code) =>
              code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`)),
            );
          }),
      ),
    );
    expect(outputs).toEqual([
      { state: 'open' },
      { state: 'open', call: 'BW_CIRCUIT_OPEN' },
      { state: 'open', call: 'BW_CIRCUIT_OPEN' },
    ]);
    // An instance started afterwards reads the open circuit at start.
    const late = await cluster(1, prefix);
    await eventually(() => late.instances[0]!.state === 'open', 'a new instance reads it');
  });

  it('keeps a newer record: an older version is refused', async () => {
    const prefix = uniquePrefix('breaker-version');
    prefixes.push(prefix);
    const store = redisBreakerStore({ client: admin, prefix });
    stores.push(store);
    expect(await store.set('x', { state: 'open', openUntil: 5, openings: 1, version: 2 })).toBe(true);
    expect(await store.set('x', { state: 'closed', openUntil: 0, openings: 0, version: 1 })).toBe(false);
    expect(await store.get('x')).toEqual({ state: 'open', openUntil: 5, openings: 1, version: 2 });
    await admin.hset(`${prefix}:b:junk`, 'r', '{"state":"sideways"}');
    expect(await store.get('junk')).toBeUndefined();
  });
});
