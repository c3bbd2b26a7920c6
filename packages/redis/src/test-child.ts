// A child process for the multi-process tests (not built): races `calls` concurrent calls for one key
// through a cache (redisCacheStore + redisLocks) or idempotency (redisIdempotencyStore), starting
// at the same wall-clock moment as its siblings, and prints what its callers got.
import { breakers, cache, circuitBreaker, idempotency, isBreakwaterError } from '@breakwater/core';
import { Redis } from 'ioredis';
import { redisBreakerStore, redisCacheStore, redisIdempotencyStore, redisLocks } from './index.js';

const [mode, prefix, calls, startAt] = process.argv.slice(2);
const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
if (mode === 'breaker') {
  // `calls` is the role: 'open' fails twice and waits for its record to land; 'watch' waits (up to
  // 10 s) to see the circuit open and then tries a call. Each prints what it saw.
  const store = redisBreakerStore({ client, prefix });
  const cb = circuitBreaker({
    name: 'payments',
    breaker: breakers.consecutive(2),
    halfOpenAfterMs: 60_000,
    store,
  });
  let refused: string | undefined;
  if (calls === 'open') {
    for (let i = 0; i < 2; i++)
      await cb.execute(() => Promise.reject(new Error('down'))).catch(() => undefined);
    for (let i = 0; i < 200 && (await store.get('payments'))?.state !== 'open'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } else {
    console.error('watching'); // tells the parent this watcher is subscribed and waiting
    for (let i = 0; i < 1_000 && cb.state !== 'open'; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    refused = await cb
      .execute(async () => 'ran')
      .then(
        (v) => v,
        (error: unknown) => (isBreakwaterError(error) ? error.code : String(error)),
      );
  }
  console.log(JSON.stringify({ state: cb.state, ...(refused === undefined ? {} : { call: refused }) }));
  await store.close();
  client.disconnect();
  process.exit(0);
}
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
