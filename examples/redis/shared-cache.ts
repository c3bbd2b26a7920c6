import { cache, idempotency } from '@breakwater/core';
import { redisCacheStore, redisIdempotencyStore, redisLocks } from '@breakwater/redis';
import { Redis } from 'ioredis';

// Fail fast while Redis is away (the policies then do without it) instead of queueing commands.
const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
});
await new Promise((resolve) => client.once('ready', resolve));
const prefix = `example:${process.pid}`;

// One load per key across every process that shares this Redis.
const locks = redisLocks({ client, prefix });
const prices = cache({ store: redisCacheStore({ client, prefix }), lock: locks, ttlMs: 30_000 });
let loads = 0;
const price = (sku: string) =>
  prices.execute(
    async () => {
      loads++;
      return { sku, cents: 1_999 };
    },
    { key: `price:${sku}` },
  );
await Promise.all([price('A1'), price('A1'), price('A1')]);
console.log(`3 reads, ${loads} load: ${JSON.stringify(await price('A1'))}`);

// At most once per Idempotency-Key, whichever process the duplicate reaches.
const store = redisIdempotencyStore({ client, prefix });
const once = idempotency({ store, wait: { maxMs: 5_000 } });
let charges = 0;
const charge = () =>
  once.execute(async () => ({ charge: ++charges }), { idempotencyKey: 'order-9', fingerprint: 'v1' });
console.log(`charged ${JSON.stringify(await charge())}, replayed ${JSON.stringify(await charge())}`);

await prices.invalidateTag('unused'); // tags work the same on Redis
await Promise.all([locks.close(), store.close()]);
const keys = await client.keys(`${prefix}:*`);
if (keys.length > 0) await client.del(...keys);
client.disconnect();
