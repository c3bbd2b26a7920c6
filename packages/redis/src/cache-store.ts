import type { CacheEntry, CacheStore } from '@breakwater/core';
import { keyOf, type RedisStoreOptions, script, storeOptions, within } from './redis-shared.js';

/** How entries become bytes in Redis and back. Replace it for values JSON cannot carry (Dates, BigInts, Maps). */
export interface Serializer {
  serialize(value: unknown): string;
  deserialize(text: string): unknown;
}

export const jsonSerializer: Serializer = Object.freeze({
  serialize: (value: unknown) => JSON.stringify(value),
  deserialize: (text: string) => JSON.parse(text) as unknown,
});

export interface RedisCacheStoreOptions extends RedisStoreOptions {
  /** @default JSON */
  serializer?: Serializer;
}

// KEYS[1] entry, KEYS[2..] tag sets; ARGV[1] payload, ARGV[2] fence ('' for none), ARGV[3] lifetime ms.
// An entry of a higher fence is never overwritten by a lower one (a loader whose lock lapsed).
// Anything else found at the key (a foreign or corrupt record) is replaced.
const SET = `
local fence = false
if redis.call('TYPE', KEYS[1]).ok == 'hash' then fence = redis.call('HGET', KEYS[1], 'f') end
if ARGV[2] ~= '' and fence and fence ~= '' and tonumber(fence) > tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'f', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
end
return 1`;

// KEYS[1] tag set: every entry in it goes, then the set.
const INVALIDATE = `
local members = redis.call('SMEMBERS', KEYS[1])
for _, key in ipairs(members) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
return #members`;

/**
 * Cache entries in Redis: a hash per entry (payload and fencing token) expiring at its `staleUntil`,
 * and a set per tag. A set and its tags are one Lua script; so is a tag's invalidation.
 */
export function redisCacheStore(options: RedisCacheStoreOptions): CacheStore {
  const {
    client,
    prefix,
    operationTimeoutMs,
    keyOf: checkedKey,
  } = storeOptions('redisCacheStore', options, [
    'maxKeyBytes',
    'client',
    'prefix',
    'operationTimeoutMs',
    'serializer',
  ]);
  const serializer = options.serializer ?? jsonSerializer;
  const set = script(client, 'bwCacheSet', undefined, SET);
  const invalidate = script(client, 'bwCacheInvalidateTag', 1, INVALIDATE);
  const entryKey = (key: string) => checkedKey('c', key);
  const tagKey = (tag: string) => keyOf(prefix, 't', tag);

  return {
    async get(key) {
      const text = await within(operationTimeoutMs, 'GET', client.hget(entryKey(key), 'd'));
      if (text === null) return undefined;
      let entry: unknown;
      try {
        entry = serializer.deserialize(text);
      } catch (error) {
        throw new Error(`redisCacheStore: the record at ${entryKey(key)} is not a cache entry`, {
          cause: error,
        });
      }
      // The policy checks the shape and reads anything else as a miss.
      return entry as CacheEntry;
    },
    async set(key, entry) {
      const lifetimeMs = Math.max(1, Math.ceil(entry.staleUntil - entry.createdAt));
      const tags = entry.tags.map(tagKey);
      const payload = serializer.serialize(entry);
      await within(
        operationTimeoutMs,
        'SET',
        set(1 + tags.length, entryKey(key), ...tags, payload, entry.fence ?? '', lifetimeMs),
      );
    },
    async delete(key) {
      await within(operationTimeoutMs, 'DEL', client.del(entryKey(key)));
    },
    async invalidateTag(tag) {
      await within(operationTimeoutMs, 'invalidateTag', invalidate(tagKey(tag)));
    },
  };
}
