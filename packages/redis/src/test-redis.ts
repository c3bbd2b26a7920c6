// Test helper (not built): a real Redis from REDIS_URL, one key prefix per test file, cleaned up after.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOW =
  'start one with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no (or set REDIS_URL)';

/** A connected client; fails, saying how to start Redis, when none answers. Never skips. */
export async function connect(url = REDIS_URL): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
  client.on('error', () => {}); // reported through the failing commands instead
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`These tests need a real Redis at ${url}, and none answered: ${HOW}`, { cause: error });
  }
  return client;
}

export const uniquePrefix = (file: string): string => `bwtest:${file}:${randomUUID().slice(0, 8)}`;

/** Deletes every key under `prefix`. */
export async function cleanup(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** Every key under `prefix`, for checking that nothing was written outside it. */
export async function keysUnder(client: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** A client to a port where nothing listens, failing every command at once (as with Redis down). */
export function unreachableClient(): Redis {
  const client = new Redis({
    port: 1,
    host: '127.0.0.1',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  return client;
}
