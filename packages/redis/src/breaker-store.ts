import type { BreakerRecord, BreakerStateStore } from '@breakwater/core';
import type { Redis } from 'ioredis';
import { keyOf, type RedisStoreOptions, Subscription, script, storeOptions, within } from './redis-shared.js';

export interface RedisBreakerStoreOptions extends RedisStoreOptions {
  /** A connection for pub/sub. @default a duplicate of `client` */
  subscriber?: Redis;
}

// KEYS[1] record; ARGV[1] version, ARGV[2] record JSON, ARGV[3] channel, ARGV[4] message.
// A record never replaces one of the same or a newer version; every stored one is published.
const SET = `
local v = redis.call('HGET', KEYS[1], 'v')
if v and tonumber(v) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'r', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

// KEYS[1] trial lease; ARGV[1] owner, ARGV[2] lease ms. One owner at a time; the same one may claim again.
const ACQUIRE_TRIAL = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

const RELEASE_TRIAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

function parseRecord(text: string): BreakerRecord | undefined {
  try {
    const r = JSON.parse(text) as Partial<BreakerRecord>;
    if (
      (r.state === 'closed' || r.state === 'open' || r.state === 'isolated') &&
      typeof r.openUntil === 'number' &&
      typeof r.openings === 'number' &&
      typeof r.version === 'number'
    ) {
      return { state: r.state, openUntil: r.openUntil, openings: r.openings, version: r.version };
    }
  } catch {
    // not a record
  }
  return undefined;
}

export interface RedisBreakerStore extends BreakerStateStore {
  close(): Promise<void>;
}

/**
 * Circuit state shared by every breaker of a name across processes: a record per name, stored only
 * over an older version and published to the others on every transition; the half-open trial is
 * guarded by a lease in Redis, so one instance cluster-wide runs it.
 */
export function redisBreakerStore(options: RedisBreakerStoreOptions): RedisBreakerStore {
  const { client, prefix, operationTimeoutMs } = storeOptions('redisBreakerStore', options, [
    'client',
    'prefix',
    'operationTimeoutMs',
    'subscriber',
  ]);
  const set = script(client, 'bwBreakerSet', 1, SET);
  const acquire = script(client, 'bwBreakerAcquireTrial', 1, ACQUIRE_TRIAL);
  const release = script(client, 'bwBreakerReleaseTrial', 1, RELEASE_TRIAL);
  const channel = keyOf(prefix, 'meta', 'breaker');
  const listeners = new Map<string, Set<(record: BreakerRecord) => void>>();
  const subscription = new Subscription(client, channel, options.subscriber, operationTimeoutMs, (text) => {
    let message: { name?: unknown; record?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return;
    }
    if (typeof message.name !== 'string') return;
    const record = parseRecord(JSON.stringify(message.record));
    if (record === undefined) return;
    for (const listener of [...(listeners.get(message.name) ?? [])]) listener(record);
  });
  const recordKey = (name: string) => keyOf(prefix, 'b', name);
  const trialKey = (name: string) => keyOf(prefix, 'bt', name);

  return {
    async get(name) {
      const text = await within(operationTimeoutMs, 'breaker get', client.hget(recordKey(name), 'r'));
      return text === null ? undefined : parseRecord(text);
    },
    async set(name, record) {
      const json = JSON.stringify(record);
      const stored = await within(
        operationTimeoutMs,
        'breaker set',
        set(recordKey(name), record.version, json, channel, JSON.stringify({ name, record })),
      );
      return stored === 1;
    },
    subscribe(name, listener) {
      let set = listeners.get(name);
      if (set === undefined) {
        set = new Set();
        listeners.set(name, set);
      }
      set.add(listener);
      void subscription.ready();
      return () => {
        set.delete(listener);
      };
    },
    async acquireTrial(name, owner, leaseMs) {
      return (
        (await within(
          operationTimeoutMs,
          'breaker trial',
          acquire(trialKey(name), owner, Math.ceil(leaseMs)),
        )) === 1
      );
    },
    async releaseTrial(name, owner) {
      await within(operationTimeoutMs, 'breaker trial release', release(trialKey(name), owner));
    },
    /** Resolves once transitions from other instances are being received. */
    close: () => subscription.close(),
  };
}
