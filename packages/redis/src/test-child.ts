// A child process for the multi-process tests (not built): races `calls` concurrent calls for one key
// through a cache (redisCacheStore + redisLocks) or idempotency (redisIdempotencyStore), starting
// at the same wall-clock moment as its siblings, and prints what its callers got.
import { cache, idempotency, isBreakwaterError } from '@breakwater/core';
import { Redis } from 'ioredis';
import { redisCacheStore, redisIdempotencyStore, redisLocks } from './index.js';

const [mode, prefix, calls, startAt] = process.argv.slice(2);
const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const work = async () => {
  await client.incr(`${prefix}:executions`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  return 'the one result';
};
const closers: (() => Promise<void>)[] = [];
let run: () => Promise<unknown>;
if (mode === 'cache') {
  const lock = redisLocks({ client, prefix });
  closers.push(() => lock.close());
  const policy = cache({ store: redisCacheStore({ client, prefix }), lock, ttlMs: 60_000 });
  run = () => policy.execute(work, { key: 'cold' });
} else {
  const store = redisIdempotencyStore({ client, prefix });
  closers.push(() => store.close());
  const policy = idempotency({ store, wait: { maxMs: 10_000 } });
  run = () => policy.execute(work, { idempotencyKey: 'dup', fingerprint: 'same' });
}
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
const answers = await Promise.all(
  Array.from({ length: Number(calls) }, () =>
    run().then(
      (value) => String(value),
      (error: unknown) => (isBreakwaterError(error) ? error.code : String(error)),
    ),
  ),
);
const counts: Record<string, number> = {};
for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
console.log(JSON.stringify(counts));
for (const close of closers) await close();
client.disconnect();
