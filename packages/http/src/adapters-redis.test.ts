// The adapters on shared state in a real Redis: an Express and a Fastify instance of one service,
// behind one Redis, keep one idempotency record, one rate limit and one cache between them.
import { redisCacheStore, redisIdempotencyStore, redisLocks, redisRateLimiter } from '@breakwater/redis';
import type { Redis } from 'ioredis';
import { Agent } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, connect, uniquePrefix, unreachableClient } from '../../redis/src/test-redis.js';
import { keys } from './keys.js';
import type { ServerOptions } from './server.js';
import { frameworks, get, type Log, post } from './test-servers.js';

let client: Redis;
const prefix = uniquePrefix('http-adapters');
// A bounded pool per origin: 1,000 requests in flight at once over at most 100 sockets each.
const agent = new Agent({ connections: 100 });

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  await cleanup(client, prefix);
  client.disconnect();
  await agent.close();
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The service twice, once per framework, with the same options; returns both and their logs. */
async function cluster(options: ServerOptions) {
  const logs: Log[] = [];
  const urls: string[] = [];
  for (const start of [frameworks.express!, frameworks.fastify!]) {
    const log: Log = { seen: [] };
    const server = await start(options, log);
    closers.push(server.close);
    logs.push(log);
    urls.push(server.url);
  }
  return { urls, logs };
}

describe('the adapters on Redis', () => {
  it('run 1,000 concurrent duplicate POSTs across two instances exactly once', async () => {
    const { urls, logs } = await cluster({
      idempotency: { store: redisIdempotencyStore({ client, prefix }), waitMs: 5_000 },
      key: keys.header('x-tenant'),
    });
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        post(urls[i % 2]!, 'one-order', { item: 'book' }, { 'x-tenant': 'acme' }, agent).then(async (r) => ({
          status: r.status,
          replayed: r.headers.get('idempotent-replayed'),
          body: await r.text(),
        })),
      ),
    );
    expect(logs.map((l) => l.orders ?? 0).reduce((a, b) => a + b)).toBe(1);
    // Every duplicate waited for the first and got its answer, from either instance.
    expect(answers.every((a) => a.status === 201)).toBe(true);
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers.filter((a) => a.replayed === null)).toHaveLength(1);
  });

  it('share one rate limit per client between instances, with its headers', async () => {
    const limiter = redisRateLimiter({ client, prefix, ratePerSec: 0.2, burst: 2 });
    const { urls } = await cluster({ rateLimit: { limiter }, key: keys.header('x-client') });
    const as = (url: string, who: string) => fetch(`${url}/work`, { headers: { 'x-client': who } });
    const first = await as(urls[0]!, 'a');
    expect(first.headers.get('ratelimit')).toBe('"default";r=1;t=5');
    expect((await as(urls[1]!, 'a')).status).toBe(200);
    const refused = await as(urls[0]!, 'a');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('ratelimit')).toMatch(/^"default";r=0;t=(9|10)$/);
    expect((await as(urls[1]!, 'a')).status).toBe(429); // the other instance counts the same
    expect((await as(urls[1]!, 'b')).status).toBe(200); // another client, its own limit
  });

  it('share one cache and one handler run per key between instances', async () => {
    const options: ServerOptions = {
      cache: {
        store: redisCacheStore({ client, prefix }),
        ttlMs: 60_000,
        lock: redisLocks({ client, prefix }),
      },
    };
    const { urls, logs } = await cluster(options);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(`${urls[i % 2]}/items/42?ms=200`, agent)),
    );
    expect(logs.map((l) => l.items ?? 0).reduce((a, b) => a + b)).toBe(1);
    const bodies = new Set(await Promise.all(answers.map((r) => r.text())));
    expect(bodies.size).toBe(1);
    expect(answers.filter((r) => r.headers.get('cache-status') === 'breakwater; hit')).toHaveLength(39);
  });

  it('with Redis unreachable: idempotency and a closed limit answer 503 and run nothing, a cache falls back to the handler', async () => {
    const down = unreachableClient();
    const { urls, logs } = await cluster({
      idempotency: { store: redisIdempotencyStore({ client: down, prefix }) },
      cache: { store: redisCacheStore({ client: down, prefix }), ttlMs: 60_000 },
      key: keys.header('x-tenant'),
    });
    for (const url of urls) {
      const refused = await post(url, 'k', { item: 'a' }, { 'x-tenant': 't' });
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ code: 'BW_STORE_UNAVAILABLE' });
      for (let i = 0; i < 2; i++) expect((await fetch(`${url}/items/1`)).status).toBe(200);
    }
    expect(logs.map((l) => l.orders ?? 0)).toEqual([0, 0]); // fails closed: never a duplicate
    expect(logs.map((l) => l.items ?? 0)).toEqual([2, 2]); // every read reached the handler
    const closed = await cluster({
      rateLimit: { limiter: redisRateLimiter({ client: down, prefix, ratePerSec: 5 }) },
    });
    const refused = await fetch(`${closed.urls[0]}/work`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: 'BW_STORE_UNAVAILABLE' });
    const open = await cluster({
      rateLimit: { limiter: redisRateLimiter({ client: down, prefix, ratePerSec: 5, failOpen: true }) },
    });
    expect((await fetch(`${open.urls[1]}/work`)).status).toBe(200);
    down.disconnect();
  });
});
