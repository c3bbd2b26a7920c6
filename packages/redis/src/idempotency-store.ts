import type { BeginResult, IdempotencyStore, IdempotentResult } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { jsonSerializer, type Serializer } from './cache-store.js';
import { keyOf, type RedisStoreOptions, script, storeOptions, Waker, within } from './redis-shared.js';

export interface RedisIdempotencyStoreOptions extends RedisStoreOptions {
  /** A connection for pub/sub. @default a duplicate of `client`, made on first wait */
  subscriber?: Redis;
  /** How results become text. @default JSON, with errors kept as their name, message, code and status */
  serializer?: Serializer;
  /** A serialised result larger than this is refused with a RangeError, never stored cut short. @default 1_048_576 */
  maxResultBytes?: number;
}

// A record is a hash: s = 'r' (running) or 'd' (done), fp = fingerprint, t = token, r = result.
// A running record expires with its lease, a done one with ttlMs: a lapsed claim is simply gone.

// KEYS[1] record, KEYS[2] token counter; ARGV[1] fingerprint, ARGV[2] lease ms.
const BEGIN = `
local s = redis.call('HGET', KEYS[1], 's')
if not s then
  local t = redis.call('INCR', KEYS[2])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', 'r', 'fp', ARGV[1], 't', t)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'claimed', tostring(t)}
end
local fp = redis.call('HGET', KEYS[1], 'fp')
if s == 'r' then return {'running', fp, tostring(redis.call('PTTL', KEYS[1]))} end
return {'done', fp, redis.call('HGET', KEYS[1], 'r')}`;

// KEYS[1] record; ARGV[1] token, ARGV[2] result, ARGV[3] ttl ms, ARGV[4] channel, ARGV[5] user key.
const COMPLETE = `
if redis.call('HGET', KEYS[1], 's') ~= 'r' or redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 's', 'd', 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1`;

// KEYS[1] record; ARGV[1] token, ARGV[2] channel, ARGV[3] user key.
const RELEASE = `
if redis.call('HGET', KEYS[1], 's') ~= 'r' or redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

// KEYS[1] record; ARGV[1] token, ARGV[2] lease ms.
const EXTEND = `
if redis.call('HGET', KEYS[1], 's') ~= 'r' or redis.call('HGET', KEYS[1], 't') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/** Errors travel as plain fields and come back as an Error with them. */
function encodeResult(result: IdempotentResult): unknown {
  if (result.ok) return { ok: true, value: result.value };
  const e = result.error as { name?: unknown; message?: unknown; code?: unknown; status?: unknown } | null;
  return {
    ok: false,
    error:
      e !== null && typeof e === 'object'
        ? { name: e.name, message: e.message, code: e.code, status: e.status }
        : { message: String(result.error) },
  };
}

function decodeResult(decoded: unknown): IdempotentResult {
  const r = decoded as { ok?: unknown; value?: unknown; error?: Record<string, unknown> } | null;
  if (r === null || typeof r !== 'object' || typeof r.ok !== 'boolean')
    throw new Error('not an idempotency result');
  if (r.ok) return { ok: true, value: r.value };
  const fields = r.error ?? {};
  const error = Object.assign(new Error(String(fields.message ?? 'replayed error')), {
    code: fields.code,
    status: fields.status,
    replayed: true,
  });
  if (typeof fields.name === 'string') Object.defineProperty(error, 'name', { value: fields.name });
  return { ok: false, error };
}

export interface RedisIdempotencyStore extends IdempotencyStore {
  close(): Promise<void>;
}

/** Idempotency records in Redis: begin, complete, release and extend are one Lua script each. */
export function redisIdempotencyStore(options: RedisIdempotencyStoreOptions): RedisIdempotencyStore {
  const {
    client,
    prefix,
    operationTimeoutMs,
    keyOf: checkedKey,
  } = storeOptions('redisIdempotencyStore', options, [
    'maxKeyBytes',
    'client',
    'prefix',
    'operationTimeoutMs',
    'subscriber',
    'serializer',
    'maxResultBytes',
  ]);
  const serializer = options.serializer ?? jsonSerializer;
  const maxResultBytes = options.maxResultBytes ?? 1_048_576;
  if (!Number.isInteger(maxResultBytes) || maxResultBytes < 1) {
    throw new RangeError('redisIdempotencyStore: option "maxResultBytes" must be a positive integer');
  }
  const begin = script(client, 'bwIdemBegin', 2, BEGIN);
  const complete = script(client, 'bwIdemComplete', 1, COMPLETE);
  const release = script(client, 'bwIdemRelease', 1, RELEASE);
  const extend = script(client, 'bwIdemExtend', 1, EXTEND);
  const tokenKey = keyOf(prefix, 'meta', 'idem-token');
  const channel = keyOf(prefix, 'meta', 'idem-settled');
  const waker = new Waker(client, channel, options.subscriber, operationTimeoutMs);
  const recordKey = (key: string) => checkedKey('i', key);

  return {
    async begin(key, { fingerprint, leaseMs }): Promise<BeginResult> {
      // Listen before asking, so a duplicate that must wait cannot miss the holder's completion.
      await waker.ready();
      const reply = (await within(
        operationTimeoutMs,
        'idempotency begin',
        begin(recordKey(key), tokenKey, fingerprint, Math.ceil(leaseMs)),
      )) as [string, string, string?];
      const [status, a, b] = reply;
      if (status === 'claimed') return { status, token: Number(a) };
      if (status === 'running') return { status, fingerprint: a, leaseMsLeft: Math.max(0, Number(b)) };
      let result: IdempotentResult;
      try {
        result = decodeResult(serializer.deserialize(String(b)));
      } catch (error) {
        throw new Error(`redisIdempotencyStore: the record at ${recordKey(key)} holds no readable result`, {
          cause: error,
        });
      }
      return { status: 'done', fingerprint: a, result };
    },
    async complete(key, token, result, ttlMs) {
      const text = serializer.serialize(encodeResult(result));
      const bytes = Buffer.byteLength(text);
      if (bytes > maxResultBytes) {
        throw new RangeError(
          `redisIdempotencyStore: the result is ${bytes} bytes, over maxResultBytes (${maxResultBytes}); not stored`,
        );
      }
      return (
        (await within(
          operationTimeoutMs,
          'idempotency complete',
          complete(recordKey(key), token, text, Math.ceil(ttlMs), channel, key),
        )) === 1
      );
    },
    async release(key, token) {
      return (
        (await within(
          operationTimeoutMs,
          'idempotency release',
          release(recordKey(key), token, channel, key),
        )) === 1
      );
    },
    async extend(key, token, leaseMs) {
      return (
        (await within(
          operationTimeoutMs,
          'idempotency extend',
          extend(recordKey(key), token, Math.ceil(leaseMs)),
        )) === 1
      );
    },
    wait: (key, maxMs, signal) => waker.wait(key, maxMs, signal),
    close: () => waker.close(),
  };
}
