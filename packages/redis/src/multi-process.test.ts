import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, connect, uniquePrefix } from './test-redis.js';

const run = promisify(execFile);
let client: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  client = await connect();
});
afterAll(async () => {
  for (const p of prefixes) await cleanup(client, p);
  client.disconnect();
});

/** Four processes, 250 concurrent calls each, for one key: their answers, summed. */
async function race(mode: 'cache' | 'idempotency', prefix: string): Promise<Record<string, number>> {
  const child = new URL('./test-child.ts', import.meta.url).pathname;
  const startAt = Date.now() + 1_500; // every child is up and connected by then
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () =>
      run(process.execPath, ['--import', 'tsx', child, mode, prefix, '250', String(startAt)], {
        timeout: 30_000,
      }),
    ),
  );
  const total: Record<string, number> = {};
  for (const { stdout } of outputs) {
    for (const [answer, n] of Object.entries(JSON.parse(stdout) as Record<string, number>)) {
      total[answer] = (total[answer] ?? 0) + n;
    }
  }
  return total;
}

describe('across processes', () => {
  it('1,000 concurrent calls for one cold key in 4 processes make exactly 1 origin load', async () => {
    const prefix = uniquePrefix('mp-cache');
    prefixes.push(prefix);
    expect(await race('cache', prefix)).toEqual({ 'the one result': 1_000 });
    expect(await client.get(`${prefix}:executions`)).toBe('1');
  });

  it('1,000 concurrent duplicates in 4 processes run exactly once; the rest replay it', async () => {
    const prefix = uniquePrefix('mp-idem');
    prefixes.push(prefix);
    expect(await race('idempotency', prefix)).toEqual({ 'the one result': 1_000 });
    expect(await client.get(`${prefix}:executions`)).toBe('1');
  });
});
