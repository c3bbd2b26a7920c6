// A Redis of the test's own, killed mid-load and started again: the cache goes to the origin while
// it is down, says so, and uses it again once it is back, without a restart of the application.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { cache } from '@breakwater/core';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { redisCacheStore } from './cache-store.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

let server: ChildProcess | undefined;
async function startRedis(port: number): Promise<void> {
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  server.once('error', (error) => {
    throw new Error(
      `could not start redis-server (is it installed? apt-get install redis-server): ${error.message}`,
    );
  });
  // Ready once it says so on stdout.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start within 10 s')), 10_000);
    server!.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
async function killRedis(): Promise<void> {
  const s = server;
  server = undefined;
  if (s === undefined || s.exitCode !== null) return;
  s.kill('SIGKILL');
  await once(s, 'exit');
}

afterAll(async () => {
  await killRedis();
});

describe('Redis going away and coming back', () => {
  it('serves from the origin while Redis is down, reports it, and uses Redis again when it is back', async () => {
    const port = await freePort();
    await startRedis(port);
    // Fail fast while disconnected instead of queueing commands; keep reconnecting.
    const client = new Redis({
      port,
      host: '127.0.0.1',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
    });
    client.on('error', () => {});
    await once(client, 'ready');
    const policy = cache({
      store: redisCacheStore({ client, prefix: 'restart', operationTimeoutMs: 500 }),
      ttlMs: 60_000,
    });
    const errors: string[] = [];
    policy.onStoreError(({ operation }) => errors.push(operation));
    let loads = 0;
    const fn = async () => `load ${++loads}`;
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 1');
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 1'); // a hit from Redis

    // Killed in the middle of a load: the caller still gets its value; the write is reported lost.
    const slow = policy.execute(
      async () => {
        await killRedis();
        return 'during the outage';
      },
      { key: 'other' },
    );
    expect(await slow).toBe('during the outage');
    expect(errors).toContain('set');

    // Down: every call goes to the origin, none hangs, each read is reported.
    errors.length = 0;
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 2');
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 3');
    expect(errors.filter((e) => e === 'get')).toHaveLength(2);

    // Back (empty: no persistence). The same client reconnects by itself; the cache fills again.
    await startRedis(port);
    if (client.status !== 'ready') await once(client, 'ready');
    errors.length = 0;
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 4');
    expect(await policy.execute(fn, { key: 'k' })).toBe('load 4');
    expect(errors).toEqual([]);
    client.disconnect();
  });
});
