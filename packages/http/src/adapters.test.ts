// One suite, run against both adapters: the same cases, parameterised by framework, over real HTTP on
// 127.0.0.1 port 0. What one adapter does, the other does.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { limits, memoryIdempotencyStore, retry } from '@breakwater/core';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as fastifyBreakwater } from '@breakwater/fastify';
import { createFetch } from '@breakwater/fetch';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { keys } from './keys.js';
import type { ServerOptions } from './server.js';

interface Log {
  /** Requests the handler saw, with whether their signal aborted and why. */
  seen: { deadline: number | undefined; aborted?: string }[];
  /** POST /orders handler runs. */
  orders?: number;
}

/** The order a POST /orders makes: what both frameworks answer, with a cookie that must never be replayed. */
function order(log: Log, body: unknown) {
  log.orders = (log.orders ?? 0) + 1;
  return { id: log.orders, item: (body as { item?: unknown } | undefined)?.item ?? null };
}

type Start = (options: ServerOptions, log: Log) => Promise<{ url: string; close: () => Promise<void> }>;

/** The handler both frameworks run: waits `ms` or until its signal aborts, and records what it saw. */
function work(bw: { signal: AbortSignal; deadline: number | undefined } | undefined, ms: number, log: Log) {
  const entry: Log['seen'][number] = { deadline: bw?.deadline };
  log.seen.push(entry);
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    bw?.signal.addEventListener('abort', () => {
      entry.aborted = String((bw.signal.reason as Error)?.message ?? bw.signal.reason);
      clearTimeout(timer);
      resolve();
    });
  });
}

const frameworks: Record<string, Start> = {
  express: async (options, log) => {
    const app = express();
    app.use(express.json());
    app.use(expressBreakwater(options));
    app.post('/orders', (req, res) => {
      const made = order(log, req.body);
      res.status(201).set('set-cookie', 'session=secret').set('location', `/orders/${made.id}`).json(made);
    });
    app.post('/slow', async (req, res) => {
      log.orders = (log.orders ?? 0) + 1;
      await work(req.breakwater, Number(req.query.ms ?? 0), log);
      if (!req.breakwater!.signal.aborted) res.status(201).json({ slow: true });
    });
    app.post('/fail', (_req, res) => {
      log.orders = (log.orders ?? 0) + 1;
      res.status(500).json({ failed: true });
    });
    app.get('/work', async (req, res) => {
      await work(req.breakwater, Number(req.query.ms ?? 0), log);
      if (!res.headersSent) res.json({ ok: true, deadline: req.breakwater?.deadline ?? null });
    });
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        server.closeAllConnections();
        server.close();
      },
    };
  },
  fastify: async (options, log) => {
    const app = Fastify();
    await app.register(fastifyBreakwater, options);
    app.post('/orders', async (request, reply) => {
      const made = order(log, request.body);
      void reply.code(201).header('set-cookie', 'session=secret').header('location', `/orders/${made.id}`);
      return made;
    });
    app.post('/slow', async (request, reply) => {
      log.orders = (log.orders ?? 0) + 1;
      await work(request.breakwater, Number((request.query as { ms?: string }).ms ?? 0), log);
      void reply.code(201);
      return { slow: true };
    });
    app.post('/fail', async (_request, reply) => {
      log.orders = (log.orders ?? 0) + 1;
      void reply.code(500);
      return { failed: true };
    });
    app.get('/work', async (request, reply) => {
      await work(request.breakwater, Number((request.query as { ms?: string }).ms ?? 0), log);
      if (!reply.sent) return { ok: true, deadline: request.breakwater?.deadline ?? null };
      return reply;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      close: async () => {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
};

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function until(condition: () => boolean, what: string) {
  const end = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

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

    describe('Idempotency-Key', () => {
      const post = (
        url: string,
        key: string | undefined,
        body: unknown,
        headers: Record<string, string> = {},
      ) =>
        fetch(`${url}/orders`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(key === undefined ? {} : { 'idempotency-key': key }),
            ...headers,
          },
          body: JSON.stringify(body),
        });

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

      it('runs 50 concurrent duplicates once: the rest replay or get 409', async () => {
        const { url, log } = await serve({ idempotency: { store: memoryIdempotencyStore() } });
        const statuses = await Promise.all(
          Array.from({ length: 50 }, () => post(url, 'dup', { item: 'z' }).then((r) => r.status)),
        );
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
    serverPlan('test', { rateLimit: { limiter: limits.tokenBucket({ ratePerSec: 1 }) }, key: keys.ip() });
    serverPlan('test', { idempotency: { store: memoryIdempotencyStore() } });
    serverPlan('test', { idempotency: { store: memoryIdempotencyStore() }, key: keys.ip() }); // no warning
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(codes).toEqual(['BW_RATE_LIMIT_NOT_KEYED', 'BW_IDEMPOTENCY_UNSCOPED']); // one shared limit is a choice, not a mistake
  });
});
