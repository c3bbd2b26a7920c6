// One suite, run against both adapters: the same cases, parameterised by framework, over real HTTP on
// 127.0.0.1 port 0. What one adapter does, the other does.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { limits, memoryCacheStore, memoryIdempotencyStore, retry } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as fastifyBreakwater } from '@breakwater/fastify';
import { createFetch } from '@breakwater/fetch';
import express from 'express';
import Fastify from 'fastify';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { keys } from './keys.js';
import type { ServerOptions } from './server.js';
import { frameworks, type Log, post, until } from './test-servers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

for (const [name, start] of Object.entries(frameworks)) {
  describe(`@breakwater/${name}`, () => {
    const serve = async (options: ServerOptions) => {
      const log: Log = { seen: [] };
      const server = await start(options, log);
      closers.push(server.close);
      return { ...server, log };
    };

    it("passes a request, giving the handler a signal and the deadline the client's header sets", async () => {
      const { url, log } = await serve({ timeout: 10_000 });
      const before = Date.now();
      const res = await fetch(`${url}/work`, { headers: { 'x-request-timeout-ms': '5000' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { deadline: number };
      expect(body.deadline).toBeGreaterThanOrEqual(before + 5_000);
      expect(body.deadline).toBeLessThan(before + 10_000); // the header's, not the route's 10 s
      expect(log.seen[0]!.aborted).toBeUndefined();
    });

    it('answers a timeout with 503 problem+json and Retry-After, and aborts the handler', async () => {
      const { url, log } = await serve({ timeout: 50 });
      const res = await fetch(`${url}/work?ms=5000`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await res.json()).toMatchObject({ status: 503, code: 'BW_TIMEOUT' });
      await until(() => log.seen[0]?.aborted !== undefined, 'handler aborted');
    });

    it('answers 504 for a gateway timeout, and enforces a deadline from the header with no route timeout', async () => {
      const gateway = await serve({ timeout: { ms: 50, gateway: true } });
      expect((await fetch(`${gateway.url}/work?ms=5000`)).status).toBe(504);
      const plain = await serve({});
      const res = await fetch(`${plain.url}/work?ms=5000`, { headers: { 'x-request-timeout-ms': '50' } });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'BW_TIMEOUT' });
    });

    it('sheds what the limit cannot take with 503 and a Retry-After', async () => {
      const { url, log } = await serve({ loadShed: { limit: limits.fixed(1) } });
      const first = fetch(`${url}/work?ms=300`);
      await until(() => log.seen.length === 1, 'first admitted');
      const second = await fetch(`${url}/work?ms=0`);
      expect(second.status).toBe(503);
      expect(second.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await second.json()).toMatchObject({ code: 'BW_OVERLOADED' });
      expect((await first).status).toBe(200);
      expect((await fetch(`${url}/work`)).status).toBe(200); // the slot came back
    });

    it('rate limits with 429 and the Retry-After at which the call would pass', async () => {
      const { url } = await serve({
        rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 0.5, burst: 1 }) },
      });
      expect((await fetch(`${url}/work`)).status).toBe(200);
      const refused = await fetch(`${url}/work`);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(2);
      expect(await refused.json()).toMatchObject({ status: 429, code: 'BW_RATE_LIMITED' });
    });

    it('refuses past a full bulkhead with 503', async () => {
      const { url, log } = await serve({ bulkhead: { maxConcurrent: 1, maxQueue: 0 } });
      const first = fetch(`${url}/work?ms=300`);
      await until(() => log.seen.length === 1, 'first admitted');
      const second = await fetch(`${url}/work`);
      expect(second.status).toBe(503);
      expect(await second.json()).toMatchObject({ code: 'BW_BULKHEAD_FULL' });
      expect((await first).status).toBe(200);
    });

    it("aborts the handler's signal when the client goes away, and frees its slot", async () => {
      const { url, log } = await serve({ loadShed: { limit: limits.fixed(1) } });
      const client = new AbortController();
      const gone = fetch(`${url}/work?ms=10000`, { signal: client.signal }).catch(() => 'aborted');
      await until(() => log.seen.length === 1, 'admitted');
      client.abort();
      expect(await gone).toBe('aborted');
      await until(() => log.seen[0]!.aborted !== undefined, 'handler saw the client leave');
      expect(log.seen[0]!.aborted).toMatch(/went away/);
      await until(() => true, '');
      expect((await fetch(`${url}/work`)).status).toBe(200); // the slot was released
    });

    it('never runs the handler of a client that left while its request was queued', async () => {
      const { url, log } = await serve({ bulkhead: { maxConcurrent: 1, maxQueue: 5 } });
      const first = fetch(`${url}/work?ms=300`);
      await until(() => log.seen.length === 1, 'first admitted');
      const client = new AbortController();
      const queued = fetch(`${url}/work?ms=0`, { signal: client.signal }).catch(() => 'aborted');
      await new Promise((r) => setTimeout(r, 50));
      client.abort();
      expect(await queued).toBe('aborted');
      expect((await first).status).toBe(200);
      expect((await fetch(`${url}/work`)).status).toBe(200); // its queue place was given back
      expect(log.seen).toHaveLength(2); // the first and the last: the one that left never ran
    });

    describe('Idempotency-Key', () => {
      it('runs a POST once and replays its status, allowed headers and body, never Set-Cookie', async () => {
        const { url, log } = await serve({ idempotency: { store: memoryIdempotencyStore() } });
        const first = await post(url, '"order-1"', { item: 'book' });
        expect(first.status).toBe(201);
        expect(first.headers.get('set-cookie')).toBe('session=secret');
        const firstBody = await first.json();
        const again = await post(url, 'order-1', { item: 'book' }); // a bare token is the same key
        expect(again.status).toBe(201);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(again.headers.get('set-cookie')).toBeNull();
        expect(again.headers.get('location')).toBe('/orders/1');
        expect(await again.json()).toEqual(firstBody);
        expect(log.orders).toBe(1);
      });

      it('answers 422 for the key reused with another body, 400 for a malformed or missing (required) key', async () => {
        const { url, log } = await serve({
          idempotency: { store: memoryIdempotencyStore(), required: true },
        });
        expect((await post(url, 'k1', { item: 'a' })).status).toBe(201);
        const reused = await post(url, 'k1', { item: 'b' });
        expect(reused.status).toBe(422);
        expect(await reused.json()).toMatchObject({ code: 'BW_IDEMPOTENCY_MISMATCH' });
        const malformed = await post(url, '"unterminated', { item: 'a' });
        expect(malformed.status).toBe(400);
        expect(await malformed.json()).toMatchObject({ code: 'BW_IDEMPOTENCY_KEY_MALFORMED' });
        expect((await post(url, `"${'k'.repeat(256)}"`, {})).status).toBe(400);
        const missing = await post(url, undefined, { item: 'a' });
        expect(missing.status).toBe(400);
        expect(await missing.json()).toMatchObject({ code: 'BW_IDEMPOTENCY_KEY_MISSING' });
        expect(log.orders).toBe(1);
      });

      it("never replays one tenant's response to another using the same key", async () => {
        const { url, log } = await serve({
          idempotency: { store: memoryIdempotencyStore() },
          key: keys.header('x-tenant'),
        });
        const a = await post(url, 'same', { item: 'x' }, { 'x-tenant': 'acme' });
        const b = await post(url, 'same', { item: 'x' }, { 'x-tenant': 'globex' });
        expect(a.status).toBe(201);
        expect(b.status).toBe(201);
        expect(b.headers.get('idempotent-replayed')).toBeNull();
        expect([((await a.json()) as { id: number }).id, ((await b.json()) as { id: number }).id]).toEqual([
          1, 2,
        ]);
        expect(log.orders).toBe(2);
      });

      it('runs 1,000 concurrent duplicates once: the rest replay or get 409', async () => {
        const { url, log } = await serve({ idempotency: { store: memoryIdempotencyStore() } });
        const agent = new Agent({ connections: 100 });
        const statuses = await Promise.all(
          Array.from({ length: 1_000 }, () =>
            post(url, 'dup', { item: 'z' }, {}, agent).then(async (r) => {
              await r.arrayBuffer();
              return r.status;
            }),
          ),
        );
        await agent.close();
        expect(log.orders).toBe(1);
        expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
        expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
      });

      it('stores nothing when the client goes away mid-request: the same key runs again', async () => {
        const { url, log } = await serve({ idempotency: { store: memoryIdempotencyStore() } });
        const slow = (ms: number, signal?: AbortSignal) =>
          fetch(`${url}/slow?ms=${ms}`, { method: 'POST', headers: { 'idempotency-key': 'left' }, signal });
        const client = new AbortController();
        const first = slow(10_000, client.signal).catch(() => 'aborted');
        await until(() => log.orders === 1, 'the first request is running');
        client.abort();
        expect(await first).toBe('aborted');
        await until(() => log.seen[0]?.aborted !== undefined, "the handler's signal fired");
        // The claim is released as the aborted call settles; until then the key is in flight (409).
        let again = await slow(0);
        for (let i = 0; i < 100 && again.status === 409; i++) {
          await new Promise((r) => setTimeout(r, 10));
          again = await slow(0);
        }
        expect(again.status).toBe(201);
        expect(again.headers.get('idempotent-replayed')).toBeNull();
        expect(log.orders).toBe(2);
      });

      it('frees the key after a 5xx, so the client can try again', async () => {
        const { url, log } = await serve({ idempotency: { store: memoryIdempotencyStore() } });
        const fail = () => fetch(`${url}/fail`, { method: 'POST', headers: { 'idempotency-key': 'f' } });
        expect((await fail()).status).toBe(500);
        expect((await fail()).status).toBe(500);
        expect(log.orders).toBe(2);
      });
    });

    describe('RateLimit headers', () => {
      const bucket = () => limits.tokenBucket({ ratePerSec: 1, burst: 2 });

      it("sends draft 8's RateLimit and RateLimit-Policy on answers and on the 429, with the quota's name", async () => {
        const { url } = await serve({ rateLimit: { limiter: bucket(), name: 'api' } });
        const first = await fetch(`${url}/work`);
        expect(first.status).toBe(200);
        expect(first.headers.get('ratelimit-policy')).toBe('"api";q=2;w=2');
        expect(first.headers.get('ratelimit')).toBe('"api";r=1;t=1');
        await fetch(`${url}/work`);
        const refused = await fetch(`${url}/work`);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('ratelimit')).toMatch(/^"api";r=0;t=[12]$/);
        expect(refused.headers.get('ratelimit-policy')).toBe('"api";q=2;w=2');
        expect(refused.headers.get('retry-after')).toBe('1');
      });

      it('sends drafts 6 and 7 when asked, and none with standardHeaders: false', async () => {
        const six = await serve({ rateLimit: { limiter: bucket(), standardHeaders: 'draft-6' } });
        const a = await fetch(`${six.url}/work`);
        expect([a.headers.get('ratelimit-limit'), a.headers.get('ratelimit-remaining')]).toEqual(['2', '1']);
        expect(a.headers.get('ratelimit-reset')).toBe('1');
        expect(a.headers.get('ratelimit-policy')).toBe('2;w=2');
        const seven = await serve({ rateLimit: { limiter: bucket(), standardHeaders: 'draft-7' } });
        const b = await fetch(`${seven.url}/work`);
        expect(b.headers.get('ratelimit')).toBe('limit=2, remaining=1, reset=1');
        const none = await serve({ rateLimit: { limiter: bucket(), standardHeaders: false } });
        const c = await fetch(`${none.url}/work`);
        expect(c.headers.get('ratelimit')).toBeNull();
        expect(c.headers.get('ratelimit-policy')).toBeNull();
        await expect(
          start({ rateLimit: { limiter: bucket(), standardHeaders: 'draft-9' } } as never, { seen: [] }),
        ).rejects.toThrow(/"rateLimit.standardHeaders" must be 'draft-6', 'draft-7', 'draft-8' or false/);
      });

      it('limits each client on its own with a keyed in-process bucket, its partition key hashed', async () => {
        const { url } = await serve({
          rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 0.5, burst: 1 }) },
          key: keys.header('x-client'),
        });
        const as = (client: string) => fetch(`${url}/work`, { headers: { 'x-client': client } });
        const a = await as('a');
        expect(a.status).toBe(200);
        expect((await as('a')).status).toBe(429);
        const b = await as('b');
        expect(b.status).toBe(200); // b has a bucket of its own
        const pkA = a.headers.get('ratelimit-policy')?.match(/;pk=:([^:]+):/)?.[1];
        const pkB = b.headers.get('ratelimit-policy')?.match(/;pk=:([^:]+):/)?.[1];
        expect(pkA).toBeDefined();
        expect(pkA).not.toBe(pkB);
        expect(a.headers.get('ratelimit-policy')).not.toContain('a:'); // the key itself never leaves
      });
    });

    describe('cache', () => {
      it('serves a GET from the cache, one handler run for concurrent requests, marked by Cache-Status', async () => {
        const { url, log } = await serve({ cache: { store: memoryCacheStore(), ttlMs: 60_000 } });
        const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/items/7?ms=100`)));
        expect(log.items).toBe(1);
        const bodies = await Promise.all(answers.map((r) => r.json()));
        expect(new Set(bodies.map((b) => JSON.stringify(b)))).toEqual(new Set(['{"id":"7","run":1}']));
        expect(answers.every((r) => r.status === 200 && r.headers.get('etag') === '"7-1"')).toBe(true);
        const statuses = answers.map((r) => r.headers.get('cache-status'));
        expect(statuses.filter((s) => s === 'breakwater; fwd=miss')).toHaveLength(1);
        expect(statuses.filter((s) => s === 'breakwater; hit')).toHaveLength(19);
        const later = await fetch(`${url}/items/7?ms=100`);
        expect(later.headers.get('cache-status')).toBe('breakwater; hit');
        expect(later.headers.get('content-type')).toContain('application/json');
        expect(log.items).toBe(1);
        expect((await fetch(`${url}/items/8`)).headers.get('cache-status')).toBe('breakwater; fwd=miss');
        expect(log.items).toBe(2); // another URL, another key
      });

      it('keeps no response that sets a cookie, says no-store or private, or is not a 200', async () => {
        const { url, log } = await serve({ cache: { store: memoryCacheStore(), ttlMs: 60_000 } });
        for (const query of ['cookie=1', 'control=no-store', 'control=private,%20max-age=60', 'status=500']) {
          const first = await fetch(`${url}/items/1?${query}`);
          await first.arrayBuffer();
          const second = await fetch(`${url}/items/1?${query}`);
          expect(second.headers.get('cache-status')).toBe('breakwater; fwd=miss');
          await second.arrayBuffer();
        }
        expect(log.items).toBe(8);
        const cookie = await fetch(`${url}/items/1?cookie=1`);
        expect(cookie.headers.get('set-cookie')).toBe('visit=1'); // its own client still gets it
      });

      it('leaves requests with Authorization and other methods alone; a key function decides what is cached', async () => {
        const plain = await serve({ cache: { store: memoryCacheStore(), ttlMs: 60_000 } });
        const auth = { authorization: 'Bearer t' };
        await (await fetch(`${plain.url}/items/1`, { headers: auth })).arrayBuffer();
        const again = await fetch(`${plain.url}/items/1`, { headers: auth });
        expect(again.headers.get('cache-status')).toBeNull();
        expect(plain.log.items).toBe(2);
        const keyed = await serve({
          cache: {
            store: memoryCacheStore(),
            ttlMs: 60_000,
            // Per user, and the query ignored.
            key: (r) => `${r.headers.authorization} ${r.url.split('?')[0]}`,
          },
        });
        await (await fetch(`${keyed.url}/items/1?a=1`, { headers: auth })).arrayBuffer();
        const hit = await fetch(`${keyed.url}/items/1?a=2`, { headers: auth });
        expect(hit.headers.get('cache-status')).toBe('breakwater; hit');
        const other = await fetch(`${keyed.url}/items/1`, { headers: { authorization: 'Bearer u' } });
        expect(other.headers.get('cache-status')).toBe('breakwater; fwd=miss');
        expect(keyed.log.items).toBe(2);
        await expect(start({ cache: { store: memoryCacheStore() } } as never, { seen: [] })).rejects.toThrow(
          /"ttlMs"/,
        );
        await expect(
          start({ cache: { store: memoryCacheStore(), ttlMs: 1, staleWhileRevalidateMs: 5 } } as never, {
            seen: [],
          }),
        ).rejects.toThrow(/unknown option "cache.staleWhileRevalidateMs"/);
      });

      it('runs its own handler when the request it waited on loses its client', async () => {
        const { url, log } = await serve({ cache: { store: memoryCacheStore(), ttlMs: 60_000 } });
        const client = new AbortController();
        const first = fetch(`${url}/items/3?ms=300`, { signal: client.signal }).catch(() => 'aborted');
        await until(() => log.items === 1, 'the first request is running');
        const waiter = fetch(`${url}/items/3?ms=0`);
        await new Promise((r) => setTimeout(r, 50));
        client.abort();
        expect(await first).toBe('aborted');
        const res = await waiter;
        expect(res.status).toBe(200);
        expect(((await res.json()) as { run: number }).run).toBe(2);
      });
    });

    describe('bad input', () => {
      it('ignores a malformed deadline header and answers a huge header with 431, staying up', async () => {
        const { url, log } = await serve({ timeout: 10_000 });
        for (const bad of ['soon', '-5', '1e400', '', '12abc', '0x10']) {
          const res = await fetch(`${url}/work`, { headers: { 'x-request-timeout-ms': bad } });
          expect(res.status).toBe(200);
        }
        // None of them set the deadline: the route's 10 s did.
        const before = Date.now();
        await fetch(`${url}/work`, { headers: { 'x-request-timeout-ms': 'soon' } });
        expect(log.seen.at(-1)!.deadline).toBeGreaterThan(before + 9_000);
        const huge = await fetch(`${url}/work`, { headers: { 'x-big': 'x'.repeat(20_000) } });
        expect(huge.status).toBe(431);
        expect((await fetch(`${url}/work`)).status).toBe(200);
      });

      it('answers 400 for Idempotency-Keys of every bad shape, running nothing', async () => {
        const { url, log } = await serve({
          idempotency: { store: memoryIdempotencyStore() },
          key: keys.ip(),
        });
        const bad = [
          '"unterminated',
          '"a"b"',
          'two words',
          '"a", "b"',
          '"tab\there"',
          ':Ynl0ZXM=:',
          '?1',
          '"é"',
          `"${'k'.repeat(256)}"`,
          'k'.repeat(256),
          '""',
        ];
        for (const key of bad) {
          const res = await post(url, key, { item: 'a' });
          expect([key, res.status]).toEqual([key, 400]);
          expect(await res.json()).toMatchObject({ code: 'BW_IDEMPOTENCY_KEY_MALFORMED' });
        }
        expect(log.orders ?? 0).toBe(0);
        expect((await post(url, `"${'k'.repeat(255)}"`, { item: 'a' })).status).toBe(201); // 255 is allowed
      });
    });

    it('refuses unknown options at startup, naming them', async () => {
      await expect(start({ timout: 5 } as never, { seen: [] })).rejects.toThrow(/unknown option "timout"/);
      const store = memoryIdempotencyStore();
      await expect(start({ idempotency: { store, methods: 'POST' } } as never, { seen: [] })).rejects.toThrow(
        /"idempotency.methods" must be an array/,
      );
      await expect(start({ idempotency: { store, required: 'yes' } } as never, { seen: [] })).rejects.toThrow(
        /"idempotency.required" must be a boolean/,
      );
      await expect(start({ idempotency: { store, wait: 5 } } as never, { seen: [] })).rejects.toThrow(
        /unknown option "idempotency.wait"/,
      );
      await expect(start({ idempotency: {} } as never, { seen: [] })).rejects.toThrow(/"idempotency.store"/);
    });
  });
}

describe('deadline propagation across two hops', () => {
  it('client → service A (Express) → service B (Fastify): B answers by the deadline the client set', async () => {
    const seenByB: (number | undefined)[] = [];
    const b = Fastify();
    await b.register(fastifyBreakwater, {});
    b.get('/inner', async (request) => {
      seenByB.push(request.breakwater?.deadline);
      return { ok: true };
    });
    await b.listen({ port: 0, host: '127.0.0.1' });
    closers.push(async () => {
      b.server.closeAllConnections();
      await b.close();
    });
    const bUrl = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}`;
    const outbound = createFetch({ policy: retry({ maxAttempts: 1 }) });
    const seenByA: (number | undefined)[] = [];
    const a = express();
    a.use(expressBreakwater({ timeout: 30_000 }));
    a.get('/outer', async (req, res) => {
      seenByA.push(req.breakwater?.deadline);
      const inner = await outbound(`${bUrl}/inner`, {
        signal: req.breakwater!.signal,
        breakwater: { deadline: req.breakwater!.deadline },
      });
      res.status(inner.status).json(await inner.json());
    });
    const server = a.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.closeAllConnections();
      server.close();
    });
    const before = Date.now();
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/outer`, {
      headers: { 'x-request-timeout-ms': '3000' },
    });
    expect(res.status).toBe(200);
    const [aDeadline] = seenByA;
    const [bDeadline] = seenByB;
    expect(aDeadline).toBeGreaterThanOrEqual(before + 3_000);
    expect(aDeadline).toBeLessThan(before + 30_000); // the client's 3 s, not A's own 30 s
    // B got what was left of the same deadline. Relative ms carry no clock skew but do gain the hop's
    // transit time (B counts from when it read the header): on loopback, a few ms at most.
    expect(Math.abs(bDeadline! - aDeadline!)).toBeLessThan(250);
  });
});

describe('startup warnings', () => {
  it('warns, with a code, about setups that work but probably not as meant', async () => {
    const { serverPlan } = await import('./server.js');
    const codes: string[] = [];
    const onWarning = (w: Error & { code?: string }) => codes.push(String(w.code));
    process.on('warning', onWarning);
    serverPlan('test', { rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 1 }) } });
    // A limiter that cannot partition by key.
    serverPlan('test', { rateLimit: { limiter: { tryAcquire: () => ({ ok: true }) } }, key: keys.ip() });
    serverPlan('test', { rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 1 }) }, key: keys.ip() }); // keyed: no warning
    serverPlan('test', { idempotency: { store: memoryIdempotencyStore() } });
    serverPlan('test', { idempotency: { store: memoryIdempotencyStore() }, key: keys.ip() }); // no warning
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(codes).toEqual(['BW_RATE_LIMIT_NOT_KEYED', 'BW_IDEMPOTENCY_UNSCOPED']); // one shared limit is a choice, not a mistake
  });
});
