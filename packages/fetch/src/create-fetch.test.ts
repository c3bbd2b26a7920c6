import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import {
  backoff,
  breakers,
  CircuitOpenError,
  circuitBreaker,
  compose,
  createPolicy,
  retry,
  TimeoutError,
  timeout,
} from '@breakwater/core';
import { createFakeClock } from '@breakwater/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { createFetch } from './create-fetch.js';
import { parseRetryAfter, ResponseError } from './response-error.js';
import { serve, status } from './test-server.js';

const quickRetry = (maxAttempts = 3) => retry({ maxAttempts, backoff: backoff.constant({ delayMs: 0 }) });

describe('createFetch', () => {
  it('validates its options', () => {
    expect(() => createFetch({} as never)).toThrow(
      'createFetch: option "policy" must be a Breakwater policy, got undefined',
    );
    expect(() => createFetch({ policy: quickRetry(), fetch: 'x' as never })).toThrow(
      /option "fetch" must be a function/,
    );
  });

  it('passes a successful response through untouched', async () => {
    const server = await serve(status(200));
    const response = await createFetch({ policy: quickRetry() })(server.url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('status 200');
  });

  it('retries 5xx for idempotent methods and returns the success', async () => {
    const server = await serve((req, res, n) => status(n < 3 ? 503 : 200)(req, res));
    const response = await createFetch({ policy: quickRetry() })(server.url);
    expect(response.status).toBe(200);
    expect(server.seen).toHaveLength(3);
  });

  it('returns the last failing response, body intact, when retries run out', async () => {
    const server = await serve((req, res, n) => status(n === 1 ? 502 : 504)(req, res));
    const response = await createFetch({ policy: quickRetry(2) })(server.url);
    expect(response.status).toBe(504);
    expect(await response.text()).toBe('status 504');
    expect(server.seen).toHaveLength(2);
  });

  it('counts 408 and 429 as failures but not 404', async () => {
    const server = await serve((req, res, n) => status(n === 1 ? 408 : n === 2 ? 429 : 404)(req, res));
    const response = await createFetch({ policy: quickRetry() })(server.url);
    expect(response.status).toBe(404);
    expect(server.seen).toHaveLength(3);
  });

  it('does not repeat a POST without an Idempotency-Key', async () => {
    const server = await serve(status(503));
    const response = await createFetch({ policy: quickRetry() })(server.url, {
      method: 'POST',
      body: 'order',
    });
    expect(response.status).toBe(503);
    expect(server.seen).toHaveLength(1);
  });

  it('repeats a POST with an Idempotency-Key, sending the same body each time', async () => {
    const server = await serve((req, res, n) => status(n < 3 ? 503 : 201)(req, res));
    const response = await createFetch({ policy: quickRetry() })(server.url, {
      method: 'POST',
      headers: { 'Idempotency-Key': 'order-42' },
      body: JSON.stringify({ item: 1 }),
    });
    expect(response.status).toBe(201);
    expect(server.seen.map((s) => [s.body, s.headers['idempotency-key']])).toEqual([
      ['{"item":1}', 'order-42'],
      ['{"item":1}', 'order-42'],
      ['{"item":1}', 'order-42'],
    ]);
  });

  it('sends a stream body once, even with an Idempotency-Key', async () => {
    const server = await serve(status(503));
    const response = await createFetch({ policy: quickRetry() })(server.url, {
      method: 'PUT',
      headers: { 'Idempotency-Key': 'k' },
      body: Readable.toWeb(Readable.from(['chunk'])) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(503);
    expect(server.seen).toHaveLength(1);
    expect(server.seen[0]?.body).toBe('chunk');
  });

  it('retries a connection reset', async () => {
    const server = await serve((req, res, n, socket) => (n === 1 ? socket.destroy() : status(200)(req, res)));
    const response = await createFetch({ policy: quickRetry() })(server.url);
    expect(response.status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('rejects with the network error when a reset is not retried', async () => {
    const server = await serve((_req, _res, _n, socket) => socket.destroy());
    const error = await createFetch({ policy: compose() })(server.url).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
  });

  it('cancels the body of a discarded response so its socket is let go', async () => {
    let firstSocket: Socket | undefined;
    const server = await serve((req, res, n, socket) => {
      if (n === 1) {
        firstSocket = socket;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.write('a body that never ends');
        return;
      }
      status(200)(req, res);
    });
    const response = await createFetch({ policy: quickRetry() })(server.url);
    expect(response.status).toBe(200);
    // If the 503 body were left unread, this socket would stay open (and busy) for good.
    await vi.waitFor(() => expect(firstSocket?.destroyed).toBe(true), { timeout: 5_000 });
  });

  it('honours Retry-After in seconds before the next attempt', async () => {
    const clock = createFakeClock({ now: Date.parse('2026-01-01T00:00:00Z') });
    const server = await serve((req, res, n) =>
      status(n === 1 ? 503 : 200, n === 1 ? { 'retry-after': '2' } : {})(req, res),
    );
    const policy = retry({ backoff: backoff.constant({ delayMs: 0 }), clock });
    const pending = createFetch({ policy, now: clock.now })(server.url);
    await vi.waitFor(() => expect(clock.pending).toBe(1));
    await clock.advance(1_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
    expect(server.seen).toHaveLength(2);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const clock = createFakeClock({ now: start });
    const date = new Date(start + 3_000).toUTCString();
    const server = await serve((req, res, n) =>
      status(n === 1 ? 429 : 200, n === 1 ? { 'retry-after': date } : {})(req, res),
    );
    const pending = createFetch({ policy: retry({ clock }), now: clock.now })(server.url);
    await vi.waitFor(() => expect(clock.pending).toBe(1));
    await clock.advance(2_999);
    expect(server.seen).toHaveLength(1);
    await clock.advance(1);
    expect((await pending).status).toBe(200);
  });

  it('returns the 429 at once when Retry-After is beyond maxRetryAfterMs', async () => {
    const server = await serve(status(429, { 'retry-after': '3600' }));
    const response = await createFetch({ policy: retry({ maxRetryAfterMs: 60_000 }) })(server.url);
    expect(response.status).toBe(429);
    expect(server.seen).toHaveLength(1);
  });

  it('aborts a stalled request when the timeout fires and rejects with TimeoutError', async () => {
    const clock = createFakeClock();
    let stalledSocket: Socket | undefined;
    const server = await serve((_req, _res, _n, socket) => {
      stalledSocket = socket; // never answers
    });
    const pending = createFetch({ policy: timeout(5_000, { clock }) })(server.url).catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    await clock.advance(5_000);
    expect(await pending).toBeInstanceOf(TimeoutError);
    await vi.waitFor(() => expect(stalledSocket?.destroyed).toBe(true), { timeout: 5_000 });
  });

  it('rejects with the caller reason when the caller aborts, as fetch does', async () => {
    const server = await serve(() => {});
    const controller = new AbortController();
    const pending = createFetch({ policy: quickRetry() })(server.url, { signal: controller.signal });
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    const reason = new Error('navigated away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('lets the breaker count failure statuses and reject with CircuitOpenError once open', async () => {
    const server = await serve(status(500));
    const resilient = createFetch({ policy: circuitBreaker({ breaker: breakers.consecutive(2) }) });
    expect((await resilient(server.url)).status).toBe(500);
    expect((await resilient(server.url)).status).toBe(500);
    await expect(resilient(server.url)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(server.seen).toHaveLength(2);
  });

  it('accepts a Request and per-call options in init.breakwater', async () => {
    const server = await serve((req, res, n) => status(n === 1 ? 503 : 200)(req, res));
    const resilient = createFetch({ policy: quickRetry() });
    const noRetry = await resilient(new Request(server.url), { breakwater: { idempotent: false } });
    expect(noRetry.status).toBe(503);
    expect((await resilient(new Request(server.url))).status).toBe(200);
  });

  it('raises ResponseError inside the pipeline with the response and Retry-After', async () => {
    const server = await serve(status(503, { 'retry-after': '7' }));
    const seen: unknown[] = [];
    const policy = retry({ maxAttempts: 1 });
    policy.onGiveUp((e) => seen.push(e.error));
    await createFetch({ policy })(server.url);
    const error = seen[0] as ResponseError;
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.code).toBe('BW_HTTP_STATUS');
    expect(error.status).toBe(503);
    expect(error.retryAfterMs).toBe(7_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates, and ignores garbage', () => {
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:05 GMT', 1_000)).toBe(4_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:05 GMT', 9_000)).toBe(0);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });
});

describe('createFetch and a timeout that does not wait', () => {
  it('cancels the body of a response that arrives after an aggressive timeout gave up', async () => {
    const clock = createFakeClock();
    let answer!: () => void;
    let socket: Socket | undefined;
    const server = await serve((_req, res, _n, s) => {
      socket = s;
      answer = () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a body that never ends');
      };
    });
    // A fetch that ignores the abort, as a slow or careless implementation might.
    const stubborn: typeof fetch = (input, init) => fetch(input, { ...init, signal: undefined });
    const pending = createFetch({ policy: timeout(100, { clock, mode: 'aggressive' }), fetch: stubborn })(
      server.url,
    ).catch((e: unknown) => e);
    await vi.waitFor(() => expect(server.seen).toHaveLength(1));
    await clock.advance(100);
    expect(await pending).toBeInstanceOf(TimeoutError);
    answer();
    await vi.waitFor(() => expect(socket?.destroyed).toBe(true), { timeout: 5_000 });
  });
});

describe('createFetch hardening', () => {
  it("does not repeat a Request with a body when init has body: undefined (it is the Request's body)", async () => {
    const server = await serve(status(503));
    const resilient = createFetch({ policy: quickRetry() });
    const response = await resilient(new Request(server.url, { method: 'PUT', body: 'x' }), {
      body: undefined,
    });
    expect(response.status).toBe(503);
    expect(server.seen.map((s) => s.body)).toEqual(['x']);
  });

  it('repeats a POST marked breakwater.idempotent: true', async () => {
    const server = await serve((req, res, n) => status(n < 2 ? 503 : 200)(req, res));
    const response = await createFetch({ policy: quickRetry() })(server.url, {
      method: 'POST',
      body: 'safe to repeat',
      breakwater: { idempotent: true },
    });
    expect(response.status).toBe(200);
    expect(server.seen).toHaveLength(2);
    expect(server.seen[0]!.headers['idempotency-key']).toBeUndefined();
  });

  it('sends breakwater.idempotencyKey as the Idempotency-Key header and repeats the request', async () => {
    const server = await serve((req, res, n) => status(n < 3 ? 503 : 201)(req, res));
    const keys: Array<string | undefined> = [];
    const policy = compose(
      createPolicy({
        name: 'spy',
        run: (ctx, next) => {
          keys.push(ctx.idempotencyKey);
          return next(ctx);
        },
      }),
      quickRetry(),
    );
    const response = await createFetch({ policy })(server.url, {
      method: 'POST',
      body: 'order',
      breakwater: { idempotencyKey: 'order-7' },
    });
    expect(response.status).toBe(201);
    expect(server.seen.map((s) => s.headers['idempotency-key'])).toEqual([
      '"order-7"',
      '"order-7"',
      '"order-7"',
    ]);
    expect(keys).toEqual(['order-7']);
  });

  it("gives every POST and PATCH without a key a fresh one with idempotencyKeys: 'auto', the same across retries", async () => {
    const server = await serve((req, res, n) => status(n % 2 === 1 ? 503 : 200)(req, res));
    const resilient = createFetch({ policy: quickRetry(), idempotencyKeys: 'auto' });
    await resilient(server.url, { method: 'POST', body: 'a' });
    await resilient(server.url, { method: 'PATCH', body: 'b' });
    await resilient(server.url, { method: 'POST', body: 'c', headers: { 'Idempotency-Key': 'mine' } });
    await resilient(server.url); // a GET needs no key
    const keys = server.seen.map((s) => s.headers['idempotency-key']);
    expect(keys).toHaveLength(8); // every request fails once, then passes
    expect(keys[0]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toMatch(/^"[0-9a-f-]{36}"$/);
    expect(keys[3]).toBe(keys[2]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys.slice(4, 6)).toEqual(['mine', 'mine']);
    expect(keys.slice(6)).toEqual([undefined, undefined]);
  });

  it('refuses unknown options and bad per-call keys', async () => {
    expect(() => createFetch({ policy: quickRetry(), retries: 3 } as never)).toThrow(
      /createFetch: unknown option "retries"/,
    );
    expect(() => createFetch({ policy: quickRetry(), idempotencyKeys: 'yes' as never })).toThrow(
      /option "idempotencyKeys" must be one of 'off', 'auto'/,
    );
    const resilient = createFetch({ policy: quickRetry(), fetch: async () => new Response('never') });
    await expect(
      resilient('http://127.0.0.1:9/', { method: 'POST', breakwater: { idempotencyKey: 'café\n' } }),
    ).rejects.toThrow(/printable ASCII/);
  });
});

describe('createFetch and the deadline header', () => {
  it("tells each attempt's server the ms left before the call's deadline, relative to now", async () => {
    let now = 1_000_000;
    const server = await serve(status(200));
    const resilientFetch = createFetch({ policy: retry({ maxAttempts: 1 }), now: () => now });
    await resilientFetch(server.url, { breakwater: { deadline: now + 2_500 } });
    now += 1_000;
    await resilientFetch(server.url, { breakwater: { deadline: now + 700 } });
    await resilientFetch(server.url); // no deadline: no header
    expect(server.seen.map((s) => s.headers['x-request-timeout-ms'])).toEqual(['2500', '700', undefined]);
  });

  it('leaves a header the caller set, and can be turned off or renamed', async () => {
    const server = await serve(status(200));
    const deadline = Date.now() + 60_000;
    await createFetch({ policy: retry({ maxAttempts: 1 }) })(server.url, {
      headers: { 'x-request-timeout-ms': '42' },
      breakwater: { deadline },
    });
    await createFetch({ policy: retry({ maxAttempts: 1 }), deadlineHeader: false })(server.url, {
      breakwater: { deadline },
    });
    await createFetch({ policy: retry({ maxAttempts: 1 }), deadlineHeader: 'grpc-timeout-ms' })(server.url, {
      breakwater: { deadline },
    });
    expect(server.seen[0]!.headers['x-request-timeout-ms']).toBe('42');
    expect(server.seen[1]!.headers['x-request-timeout-ms']).toBeUndefined();
    expect(Number(server.seen[2]!.headers['grpc-timeout-ms'])).toBeGreaterThan(59_000);
    expect(() => createFetch({ policy: retry(), deadlineHeader: '' })).toThrow(/deadlineHeader/);
  });
});
