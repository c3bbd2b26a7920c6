import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { cache } from '@breakwater/core';
import { redisCacheStore, redisLocks } from '@breakwater/redis';
import { Redis } from 'ioredis';

// Run with no argument: starts three processes that read one cold key at the same moment, each 100
// times at once, through a cache on one Redis with a lock. One of them loads; everyone else waits for
// its entry. Run as `main.ts <prefix> <startAt>`: one of those processes.
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const [prefix, startAt] = process.argv.slice(2);

if (prefix === undefined) {
  const runPrefix = `example-cluster:${process.pid}`;
  const start = String(Date.now() + 1_500);
  const self = new URL(import.meta.url).pathname;
  const outputs = await Promise.all(
    [1, 2, 3].map(() => promisify(execFile)(process.execPath, ['--import', 'tsx', self, runPrefix, start])),
  );
  const client = new Redis(url);
  const loads = await client.get(`${runPrefix}:origin-loads`);
  console.log(outputs.map((o) => o.stdout.trim()).join('\n'));
  console.log(`3 processes × 100 reads, ${loads} origin load`);
  const keys = await client.keys(`${runPrefix}:*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
} else {
  const client = new Redis(url);
  const locks = redisLocks({ client, prefix });
  const catalog = cache({ store: redisCacheStore({ client, prefix }), lock: locks, ttlMs: 60_000 });
  const load = async () => {
    await client.incr(`${prefix}:origin-loads`); // the expensive origin call
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { sku: 'A1', cents: 1_999 };
  };
  await new Promise((resolve) => setTimeout(resolve, Number(startAt) - Date.now()));
  const reads = await Promise.all(
    Array.from({ length: 100 }, () => catalog.execute(load, { key: 'price:A1' })),
  );
  console.log(`a process read ${reads.length} × ${JSON.stringify(reads[0])}`);
  await locks.close();
  client.disconnect();
}
