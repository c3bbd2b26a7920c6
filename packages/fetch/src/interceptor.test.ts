import { Readable } from 'node:stream';
import { backoff, compose, retry, TimeoutError, timeout } from '@breakwater/core';
import { createFakeClock } from '@breakwater/core/testing';
import { Agent, interceptors, request, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { interceptor } from './interceptor.js';
import { serve, status } from './test-server.js';

const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) await agent.close();
});

const quickRetry = (maxAttempts = 3) => retry({ maxAttempts, backoff: backoff.constant({ delayMs: 0 }) });

function agentWith(...chain: Array<ReturnType<typeof interceptor>>) {
  const agent = new Agent();
  agents.push(agent);
  return agent.compose(...chain);
}

describe('interceptor with undici request', () => {
  it('retries 5xx for a GET and delivers the success, body streamed', async () => {
    const server = await serve((req, res, n) => status(n < 3 ? 503 : 200)(req, res));
    const dispatcher = agentWith(interceptor(quickRetry()));
    const response = await request(server.url, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('status 200');
    expect(server.seen).toHaveLength(3);
  });

  it('delivers the last failing response, body intact, when retries run out', async () => {
    const server = await serve((req, res, n) => status(n === 1 ? 502 : 504)(req, res));
    const dispatcher = agentWith(interceptor(quickRetry(2)));
    const response = await request(server.url, { dispatcher });
    expect(response.statusCode).toBe(504);
    expect(await response.body.text()).toBe('status 504');
  });

  it('consumes the bodies of discarded responses instead of cutting their connections', async () => {
    const server = await serve((req, res, n) => status(n < 3 ? 503 : 200)(req, res));
    const dispatcher = agentWith(interceptor(quickRetry()));
    await (await request(server.url, { dispatcher })).body.text();
    expect(server.seen).toHaveLength(3);
    // Every connection the attempts used is still open for keep-alive: none was destroyed.
    await vi.waitFor(() => expect(server.sockets.size).toBe(server.connections()));
    const again = await request(server.url, { dispatcher });
    expect(again.statusCode).toBe(200);
    await again.body.text();
    expect(server.sockets.size).toBe(server.connections());
  });

  it('cuts a discarded response whose body runs past maxDiscardBytes', async () => {
    const server = await serve((req, res, n) => {
      if (n > 1) return status(200)(req, res);
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('x'.repeat(2_048)); // and never ends
    });
    const dispatcher = agentWith(interceptor(quickRetry(), { maxDiscardBytes: 1_024 }));
    const response = await request(server.url, { dispatcher });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    await vi.waitFor(() => expect(server.sockets.size).toBeLessThan(server.connections()));
  });

  it('repeats a POST only with an Idempotency-Key, and never a stream body', async () => {
    const server = await serve(status(503));
    const dispatcher = agentWith(interceptor(quickRetry()));
    await (await request(server.url, { dispatcher, method: 'POST', body: 'order' })).body.text();
    expect(server.seen).toHaveLength(1);
    await (
      await request(server.url, {
        dispatcher,
        method: 'POST',
        body: 'order',
        headers: { 'idempotency-key': 'k1' },
      })
    ).body.text();
    expect(server.seen).toHaveLength(4);
    await (
      await request(server.url, {
        dispatcher,
        method: 'PUT',
        body: Readable.from(['streamed']),
        headers: { 'idempotency-key': 'k2' },
      })
    ).body.text();
    expect(server.seen).toHaveLength(5);
    expect(server.seen[4]?.body).toBe('streamed');
  });

  it("adds an Idempotency-Key to POSTs with idempotencyKeys: 'auto', the same on every attempt", async () => {
    const server = await serve((req, res, n) => status(n < 2 ? 503 : 201)(req, res));
    const dispatcher = agentWith(interceptor(quickRetry(), { idempotencyKeys: 'auto' }));
    const response = await request(server.url, { dispatcher, method: 'POST', body: 'x' });
    expect(response.statusCode).toBe(201);
    await response.body.text();
    const keys = server.seen.map((s) => s.headers['idempotency-key']);
    expect(keys[0]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(keys).toEqual([keys[0], keys[0]]);
  });

  it('honours Retry-After before the next attempt', async () => {
    const clock = createFakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
    const server = await serve((req, res, n) =>
      status(n === 1 ? 503 : 200, n === 1 ? { 'retry-after': '2' } : {})(req, res),
    );
    const policy = retry({ backoff: backoff.constant({ delayMs: 0 }), clock });
    const dispatcher = agentWith(interceptor(policy, { now: clock.now }));
    const pending = request(server.url, { dispatcher });
    await vi.waitFor(() => expect(clock.pending).toBe(1));
    await clock.advance(1_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).statusCode).toBe(200);
  });

  it('cuts a stalled attempt with the attempt timeout and retries it', async () => {
    const clock = createFakeClock();
    const server = await serve((req, res, n) => (n === 1 ? undefined : status(200)(req, res)));
    const dispatcher = agentWith(interceptor(compose(quickRetry(), timeout(1_000, { clock }))));
    const pending = request(server.url, { dispatcher });
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    await clock.advance(1_000);
    const response = await pending;
    expect(response.statusCode).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('rejects with TimeoutError when every attempt stalls', async () => {
    const clock = createFakeClock();
    const server = await serve(() => {});
    const dispatcher = agentWith(interceptor(timeout(500, { clock })));
    const pending = request(server.url, { dispatcher }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    await clock.advance(500);
    expect(await pending).toBeInstanceOf(TimeoutError);
  });

  it('retries a connection reset', async () => {
    const server = await serve((req, res, n, socket) => (n === 1 ? socket.destroy() : status(200)(req, res)));
    const dispatcher = agentWith(interceptor(quickRetry()));
    const response = await request(server.url, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it("rejects with the caller's reason when the request's signal aborts", async () => {
    const server = await serve(() => {});
    const dispatcher = agentWith(interceptor(quickRetry()));
    const controller = new AbortController();
    const pending = request(server.url, { dispatcher, signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    controller.abort(new Error('caller left'));
    const error = (await pending) as Error;
    expect(error.message).toBe('caller left');
    expect(server.seen).toHaveLength(1);
  });
});

describe('interceptor with undici fetch', () => {
  it('retries and returns a Response', async () => {
    const server = await serve((req, res, n) => status(n < 2 ? 503 : 200)(req, res));
    const dispatcher = agentWith(interceptor(quickRetry()));
    const response = await undiciFetch(server.url, { dispatcher });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('status 200');
  });
});

describe("interceptor order among undici's own", () => {
  it('placed after redirect (outside it), runs each request with its redirects as one call', async () => {
    const server = await serve((req, res, n) => {
      if (req.url === '/start') res.writeHead(302, { location: '/end' }).end();
      else status(n < 3 ? 503 : 200)(req, res);
    });
    const policy = quickRetry();
    const attempts: number[] = [];
    policy.onRetry((e) => attempts.push(e.attempt));
    const dispatcher = agentWith(interceptors.redirect({ maxRedirections: 2 }) as never, interceptor(policy));
    const response = await request(`${server.origin}/start`, { dispatcher });
    expect(response.statusCode).toBe(200);
    // Each attempt follows the redirect again: start, end (503), start, end (200).
    expect(server.seen.map((s) => s.method)).toHaveLength(4);
    expect(attempts).toEqual([1]);
  });

  it('placed before redirect (inside it), sees each hop as a call of its own', async () => {
    const server = await serve((req, res, n) => {
      if (req.url === '/start') res.writeHead(302, { location: '/end' }).end();
      else status(n < 3 ? 503 : 200)(req, res);
    });
    const dispatcher = agentWith(
      interceptor(quickRetry()),
      interceptors.redirect({ maxRedirections: 2 }) as never,
    );
    const response = await request(`${server.origin}/start`, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(server.seen).toHaveLength(3); // start, end (503, retried inside), end (200)
  });

  it('outside undici retry: sees only what undici retry gave up on', async () => {
    const server = await serve((req, res, n) => status(n <= 3 ? 503 : 200)(req, res));
    const policy = quickRetry(2);
    const giveUps: string[] = [];
    policy.onRetry(() => giveUps.push('retry'));
    const dispatcher = agentWith(
      interceptors.retry({ maxRetries: 1, minTimeout: 1, maxTimeout: 1, statusCodes: [503] }) as never,
      interceptor(policy),
    );
    const response = await request(server.url, { dispatcher });
    // undici: 2 tries per Breakwater attempt; Breakwater: 2 attempts → 4 requests, the last 200.
    expect(response.statusCode).toBe(200);
    expect(server.seen).toHaveLength(4);
    expect(giveUps).toEqual(['retry']);
  });

  it('works over the dns interceptor', async () => {
    const server = await serve((req, res, n) => status(n < 2 ? 503 : 200)(req, res));
    const dispatcher = agentWith(interceptors.dns({ maxTTL: 1_000 }) as never, interceptor(quickRetry()));
    const response = await request(server.url.replace('127.0.0.1', 'localhost'), { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(server.seen).toHaveLength(2);
  });
});

describe('interceptor options', () => {
  it('refuses bad options, naming them', () => {
    expect(() => interceptor({} as never)).toThrow(
      /interceptor: option "policy" must be a Breakwater policy/,
    );
    expect(() => interceptor(quickRetry(), { retries: 1 } as never)).toThrow(
      /interceptor: unknown option "retries"/,
    );
    expect(() => interceptor(quickRetry(), { idempotencyKeys: 'yes' as never })).toThrow(/"idempotencyKeys"/);
  });
});
