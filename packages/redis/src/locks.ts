import type { Lock, LockAcquireOptions, LockProvider } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { keyOf, type RedisStoreOptions, script, storeOptions, Waker, within } from './redis-shared.js';

export interface RedisLocksOptions extends RedisStoreOptions {
  /** A connection for pub/sub (it is put in subscriber mode). @default a duplicate of `client`, made on first wait */
  subscriber?: Redis;
}

// KEYS[1] lock, KEYS[2] the fencing counter; ARGV[1] lease ms. Returns the token, or minus the ms left.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -math.max(1, redis.call('PTTL', KEYS[1])) end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token`;

// KEYS[1] lock; ARGV[1] token, ARGV[2] channel, ARGV[3] the user's key. Only the owner frees it.
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

// KEYS[1] lock; ARGV[1] token, ARGV[2] lease ms. Only the owner extends it.
const EXTEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

export interface RedisLockProvider extends LockProvider {
  /** Stops listening for releases (quits the subscriber connection it made). */
  close(): Promise<void>;
}

/**
 * Locks across processes: SET NX PX inside a script that also takes a fencing token from one INCR'd
 * counter; release and extension check the owner's token in Lua. Waiters are woken over pub/sub when
 * the lock is released, or when its lease would run out (a crashed owner publishes nothing): no
 * polling loop.
 */
export function redisLocks(options: RedisLocksOptions): RedisLockProvider {
  const {
    client,
    prefix,
    operationTimeoutMs,
    keyOf: checkedKey,
  } = storeOptions('redisLocks', options, [
    'maxKeyBytes',
    'client',
    'prefix',
    'operationTimeoutMs',
    'subscriber',
  ]);
  const acquireScript = script(client, 'bwLockAcquire', 2, ACQUIRE);
  const releaseScript = script(client, 'bwLockRelease', 1, RELEASE);
  const extendScript = script(client, 'bwLockExtend', 1, EXTEND);
  const fenceKey = keyOf(prefix, 'meta', 'fence');
  const channel = keyOf(prefix, 'meta', 'lock-released');
  const waker = new Waker(client, channel, options.subscriber, operationTimeoutMs);

  const lockOf = (key: string, token: number): Lock => {
    const lockKey = keyOf(prefix, 'l', key);
    return {
      key,
      token,
      extend: async (ms: number) =>
        (await within(operationTimeoutMs, 'lock extend', extendScript(lockKey, token, Math.ceil(ms)))) === 1,
      release: async () =>
        (await within(operationTimeoutMs, 'lock release', releaseScript(lockKey, token, channel, key))) === 1,
    };
  };

  return {
    async acquire(key: string, acquireOptions: LockAcquireOptions): Promise<Lock | undefined> {
      const leaseMs = acquireOptions?.leaseMs;
      if (typeof leaseMs !== 'number' || !(leaseMs > 0) || !Number.isFinite(leaseMs)) {
        throw new RangeError(
          `redisLocks.acquire: leaseMs must be a positive, finite number of ms, got ${String(leaseMs)}`,
        );
      }
      const waitMs = acquireOptions.waitMs ?? 0;
      const signal = acquireOptions.signal;
      const until = Date.now() + waitMs;
      const lockKey = checkedKey('l', key);
      // Subscribe before the first try, so a release between the try and the wait is not missed.
      if (waitMs > 0) await waker.ready();
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const got = Number(
          await within(
            operationTimeoutMs,
            'lock acquire',
            acquireScript(lockKey, fenceKey, Math.ceil(leaseMs)),
          ),
        );
        if (got > 0) return lockOf(key, got);
        const left = until - Date.now();
        if (left <= 0) return undefined;
        await waker.wait(key, Math.min(left, -got), signal);
      }
    },
    close: () => waker.close(),
  };
}
