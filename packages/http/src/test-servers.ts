// Test helper (not built): the same small app on Express and on Fastify, for the one suite both
// adapters run, started on 127.0.0.1 port 0.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { breakwater as expressBreakwater } from '@breakwater/express';
import { breakwater as fastifyBreakwater } from '@breakwater/fastify';
import express from 'express';
import Fastify from 'fastify';
import { type Dispatcher, fetch as undiciFetch } from 'undici';
import type { ServerOptions } from './server.js';

export interface Log {
  /** Requests the handler saw, with whether their signal aborted and why. */
  seen: { deadline: number | undefined; aborted?: string }[];
  /** POST /orders handler runs. */
  orders?: number;
  /** GET /items/:id handler runs. */
  items?: number;
}

interface ItemQuery {
  ms?: string;
  cookie?: string;
  status?: string;
  control?: string;
}

/** GET /items/:id: waits `ms`, then answers `status` with an ETag, a Set-Cookie or a Cache-Control when asked. */
async function item(log: Log, id: string, query: ItemQuery, set: (name: string, value: string) => void) {
  log.items = (log.items ?? 0) + 1;
  const run = log.items;
  await new Promise((resolve) => setTimeout(resolve, Number(query.ms ?? 0)));
  set('etag', `"${id}-${run}"`);
  if (query.cookie !== undefined) set('set-cookie', 'visit=1');
  if (query.control !== undefined) set('cache-control', query.control);
  return { status: Number(query.status ?? 200), body: { id, run } };
}

/** The order a POST /orders makes: what both frameworks answer, with a cookie that must never be replayed. */
function order(log: Log, body: unknown) {
  log.orders = (log.orders ?? 0) + 1;
  return { id: log.orders, item: (body as { item?: unknown } | undefined)?.item ?? null };
}

export type Start = (
  options: ServerOptions,
  log: Log,
) => Promise<{ url: string; close: () => Promise<void> }>;

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

/** POST /orders with an Idempotency-Key (none when `key` is undefined). */
export const post = (
  url: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> = {},
  /** Sent through this undici dispatcher (a bounded pool) rather than the global one. */
  dispatcher?: Dispatcher,
): Promise<Response> => {
  const init = {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key === undefined ? {} : { 'idempotency-key': key }),
      ...headers,
    },
    body: JSON.stringify(body),
  };
  return dispatcher === undefined
    ? fetch(`${url}/orders`, init)
    : (undiciFetch(`${url}/orders`, { ...init, dispatcher }) as unknown as Promise<Response>);
};

/** GET through an undici dispatcher. */
export const get = (url: string, dispatcher: Dispatcher): Promise<Response> =>
  undiciFetch(url, { dispatcher }) as unknown as Promise<Response>;

export const frameworks: Record<string, Start> = {
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
    app.get('/items/:id', async (req, res) => {
      const { status, body } = await item(log, req.params.id, req.query as ItemQuery, (n, v) =>
        res.set(n, v),
      );
      res.status(status).json(body);
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
    app.get('/items/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      const { status, body } = await item(log, id, request.query as ItemQuery, (n, v) => {
        void reply.header(n, v);
      });
      void reply.code(status);
      return body;
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

/** Waits until `condition` holds, polling, failing after 5 s with `what`. */
export async function until(condition: () => boolean, what: string) {
  const end = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`not in time: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
