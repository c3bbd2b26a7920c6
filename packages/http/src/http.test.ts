import {
  BulkheadFullError,
  CircuitOpenError,
  IdempotencyConflictError,
  IdempotencyMismatchError,
  OverloadedError,
  RateLimitedError,
  TimeoutError,
} from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { requestFingerprint } from './fingerprint.js';
import {
  formatDeadline,
  formatRetryAfter,
  fromSfString,
  parseIdempotencyKey,
  parseRetryAfter,
  readDeadline,
  toSfString,
} from './headers.js';
import { ipv6Prefix, keys } from './keys.js';
import { errorResponse, problem } from './problem.js';
import { rateLimitHeaders } from './rate-limit-headers.js';
import { storedBody, storeResponse } from './stored-response.js';

describe('Retry-After', () => {
  it('reads seconds and HTTP dates, and writes whole seconds rounded up', () => {
    const now = Date.parse('Wed, 02 Dec 2026 10:00:00 GMT');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 02 Dec 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 02 Dec 2026 09:00:00 GMT', now)).toBe(0); // in the past
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect([
      formatRetryAfter(1),
      formatRetryAfter(1_000),
      formatRetryAfter(1_001),
      formatRetryAfter(0),
    ]).toEqual(['1', '1', '2', '0']);
  });
});

describe('Idempotency-Key', () => {
  it('accepts sf-strings and bare tokens, and says why it refuses the rest', () => {
    expect(parseIdempotencyKey('"8e03978e-40d5-43e8-bc93-6894a57f9324"')).toEqual({
      ok: true,
      key: '8e03978e-40d5-43e8-bc93-6894a57f9324',
    });
    expect(parseIdempotencyKey('abc-123')).toEqual({ ok: true, key: 'abc-123' });
    expect(parseIdempotencyKey('8e03978e-40d5')).toEqual({ ok: true, key: '8e03978e-40d5' }); // a bare UUID
    expect(parseIdempotencyKey('"with \\"quote\\" and \\\\"')).toEqual({
      ok: true,
      key: 'with "quote" and \\',
    });
    expect(parseIdempotencyKey(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(parseIdempotencyKey('   ')).toEqual({ ok: false, reason: 'missing' });
    for (const bad of [
      '"unterminated',
      '"bad\\x"',
      'two words',
      'a,b',
      '""',
      'é',
      '"\u0001"',
      'x"y',
      ':Ynl0ZXM=:',
      '?1',
      '@1700000000',
      '%"x"',
    ]) {
      expect(parseIdempotencyKey(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(parseIdempotencyKey(['a', 'b'])).toEqual({ ok: false, reason: 'malformed' }); // sent twice
    expect(parseIdempotencyKey('k'.repeat(255))).toMatchObject({ ok: true });
    expect(parseIdempotencyKey('k'.repeat(256))).toEqual({ ok: false, reason: 'too-long' });
    expect(parseIdempotencyKey(`"${'k'.repeat(300)}"`, 300)).toMatchObject({ ok: true });
  });

  it('writes an sf-string that reads back', () => {
    for (const key of ['plain', 'with "quotes"', 'back\\slash', ' spaced '])
      expect(fromSfString(toSfString(key))).toBe(key);
    expect(() => toSfString('ünicode')).toThrow(/printable ASCII/);
  });
});

describe('the deadline header', () => {
  it('is relative ms: read against now, written from a deadline', () => {
    expect(readDeadline('1500', 10_000)).toBe(11_500);
    expect(readDeadline('0', 10_000)).toBe(10_000);
    for (const bad of ['-1', '1e3', 'soon', '', '1'.repeat(16)]) expect(readDeadline(bad, 0)).toBeUndefined();
    expect(readDeadline(['1', '2'], 0)).toBeUndefined();
    expect(formatDeadline(11_500.7, 10_000)).toBe('1500');
    expect(formatDeadline(9_000, 10_000)).toBe('0');
  });
});

describe('RateLimit headers', () => {
  const info = {
    limit: 100,
    remaining: 42,
    resetMs: 12_300,
    windowMs: 60_000,
    name: 'api',
    key: '203.0.113.9',
  };
  it('writes drafts 6, 7 and 8', () => {
    expect(rateLimitHeaders(info, 'draft-6')).toEqual({
      'RateLimit-Policy': '100;w=60',
      'RateLimit-Limit': '100',
      'RateLimit-Remaining': '42',
      'RateLimit-Reset': '13',
    });
    expect(rateLimitHeaders(info, 'draft-7')).toEqual({
      'RateLimit-Policy': '100;w=60',
      RateLimit: 'limit=100, remaining=42, reset=13',
    });
    const d8 = rateLimitHeaders(info);
    expect(d8.RateLimit).toBe('"api";r=42;t=13');
    expect(d8['RateLimit-Policy']).toMatch(/^"api";q=100;w=60;pk=:[A-Za-z0-9+/]{16}:$/);
    expect(d8['RateLimit-Policy']).not.toContain('203.0.113.9'); // the key is hashed
  });
  it('never reports negative or fractional figures', () => {
    expect(
      rateLimitHeaders({ limit: 10.7, remaining: -3, resetMs: -5, windowMs: 999 }, 'draft-7').RateLimit,
    ).toBe('limit=10, remaining=0, reset=0');
  });
});

describe('errorResponse', () => {
  it('maps every refusal to its status, Retry-After and a problem+json body', () => {
    const cases: [unknown, number, string | undefined][] = [
      [new OverloadedError('BW_OVERLOADED', 'shed', { retryAfterMs: 1_500 }), 503, '2'],
      [new CircuitOpenError(false), 503, '1'],
      [new BulkheadFullError(2, 0, 'full'), 503, '1'],
      [new TimeoutError(100), 503, '1'],
      [new RateLimitedError('slow down', { retryAfterMs: 250 }), 429, '1'],
      [new IdempotencyConflictError('k', { retryAfterMs: 800 }), 409, '1'],
      [new IdempotencyMismatchError('k'), 422, undefined],
    ];
    for (const [error, status, retryAfter] of cases) {
      const response = errorResponse(error)!;
      expect(response.status).toBe(status);
      expect(response.headers['retry-after']).toBe(retryAfter);
      expect(response.headers['content-type']).toBe('application/problem+json');
      expect(response.body).toMatchObject({ status, code: (error as { code: string }).code });
      expect(response.body.type).toMatch(/^https:\/\//);
    }
    expect(errorResponse(new TimeoutError(100), { gateway: true })!.status).toBe(504);
    expect(errorResponse(new Error('app'))).toBeUndefined();
    expect(problem(400, 'BW_IDEMPOTENCY_KEY_MALFORMED', 'bad')).toEqual({
      type: 'https://breakwater.dev/problems/idempotency-key-malformed',
      title: 'Bad Request',
      status: 400,
      code: 'BW_IDEMPOTENCY_KEY_MALFORMED',
      detail: 'bad',
    });
  });
});

describe('requestFingerprint', () => {
  it('tells apart another method, route or body, and nothing else', () => {
    const a = requestFingerprint('post', '/orders/:id', '{"n":1}');
    expect(a).toBe(requestFingerprint('POST', '/orders/:id', Buffer.from('{"n":1}')));
    expect(a).not.toBe(requestFingerprint('PUT', '/orders/:id', '{"n":1}'));
    expect(a).not.toBe(requestFingerprint('POST', '/orders', '{"n":1}'));
    expect(a).not.toBe(requestFingerprint('POST', '/orders/:id', '{"n":2}'));
    expect(requestFingerprint('GET', '/x')).toBe(requestFingerprint('GET', '/x', ''));
  });
});

describe('storeResponse', () => {
  it('keeps allow-listed headers only, never Set-Cookie, and the body bytes', () => {
    const stored = storeResponse(
      201,
      {
        'Content-Type': 'application/json',
        'Set-Cookie': ['a=1'],
        Location: '/orders/7',
        'X-Secret': 's',
        'Content-Length': 12,
      },
      new Uint8Array([0, 255, 10]),
      ['content-type', 'location', 'set-cookie', 'x-secret'.replace('secret', 'other')],
    );
    expect(stored.headers).toEqual({ 'content-type': 'application/json', location: '/orders/7' });
    expect([...storedBody(stored)]).toEqual([0, 255, 10]);
    expect(storeResponse(200, { vary: ['accept', 'origin'] }, 'ok').headers).toEqual({
      vary: 'accept, origin',
    });
  });
});

describe('keys', () => {
  const req = (remoteAddress: string | undefined, xff?: string) => ({
    remoteAddress,
    headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
  });
  it('uses the socket address, ignoring X-Forwarded-For from anyone not trusted', () => {
    const key = keys.ip();
    expect(key(req('203.0.113.9', '1.2.3.4'))).toBe('203.0.113.9');
    expect(key(req('::ffff:198.51.100.7'))).toBe('198.51.100.7');
    expect(key(req(undefined))).toBeUndefined();
  });
  it('walks X-Forwarded-For from the right past trusted proxies only', () => {
    const key = keys.ip({ trustedProxies: ['10.0.0.0/8', 'loopback'] });
    expect(key(req('10.1.2.3', '198.51.100.1, 203.0.113.5, 10.9.9.9'))).toBe('203.0.113.5');
    expect(key(req('127.0.0.1', '198.51.100.1'))).toBe('198.51.100.1');
    expect(key(req('10.1.2.3', 'not-an-ip, 10.2.2.2'))).toBe('10.1.2.3'); // a forged hop: believe nothing left of it
    expect(key(req('203.0.113.9', '1.2.3.4'))).toBe('203.0.113.9'); // not a trusted proxy
    expect(() => keys.ip({ trustedProxies: ['nope'] })).toThrow(/not an address/);
  });
  it('groups IPv6 clients by /56 (or the prefix given)', () => {
    const key = keys.ip();
    expect(key(req('2001:db8:1234:56ab::1'))).toBe('2001:db8:1234:5600::/56');
    expect(key(req('2001:db8:1234:56ff:ffff::9'))).toBe('2001:db8:1234:5600::/56');
    expect(keys.ip({ ipv6Subnet: 64 })(req('2001:db8:1234:56ab:1:2:3:4'))).toBe('2001:db8:1234:56ab::/64');
    expect(ipv6Prefix('::1', 128)).toBe('::1/128');
    expect(() => keys.ip({ ipv6Subnet: 0 })).toThrow(/ipv6Subnet/);
  });
  it('reads a header as the key, warning when it is a forwarding header', () => {
    expect(keys.header('X-Tenant')({ headers: { 'x-tenant': 'acme' } })).toBe('acme');
    expect(keys.header('x-tenant')({ headers: {} })).toBeUndefined();
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    keys.header('X-Forwarded-For');
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        process.off('warning', onWarning);
        expect(warnings).toContain('BW_KEY_UNTRUSTED_FORWARDED');
        resolve();
      }),
    );
  });
});

describe('server options', () => {
  it('refuses bad cache and rate limit options at startup, naming them', async () => {
    const { serverPlan } = await import('./server.js');
    const { limits, memoryCacheStore } = await import('@breakwater/core');
    const store = memoryCacheStore();
    const plan = (options: object) => () => serverPlan('test', options as never);
    expect(plan({ cache: { store, ttlMs: 1, methods: 'GET' } })).toThrow(
      /"cache.methods" must be an array of method names/,
    );
    expect(plan({ cache: { store, ttlMs: 1, statuses: [99] } })).toThrow(/"cache.statuses" must be an array/);
    expect(plan({ cache: { store, ttlMs: 1, headers: [''] } })).toThrow(/"cache.headers" must be an array/);
    expect(plan({ cache: { store, ttlMs: 1, key: 'url' } })).toThrow(/"cache.key" must be a function/);
    expect(plan({ cache: null })).toThrow(/option "cache" must be/);
    const limiter = limits.tokenBucket({ ratePerSec: 1 });
    expect(plan({ rateLimit: { limiter, name: '' } })).toThrow(/"rateLimit.name" must be a non-empty string/);
    expect(plan({ rateLimit: { limiter, headers: true } })).toThrow(/unknown option "rateLimit.headers"/);
    expect(plan({ rateLimit: { limiter: {} } })).toThrow(/"rateLimit.limiter" must be a Limiter/);
  });
});
