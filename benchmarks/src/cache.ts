// `npm run bench -- cache`: what caching, idempotency and the Redis stores cost and do, beside
// bentocache 1.6 and async-cache-dedupe 3 doing the same in the same run. Needs the Redis at REDIS_URL.

import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { cache, idempotency, memoryCacheStore, memoryIdempotencyStore } from '@breakwater/core';
import { redisCacheStore, redisRateLimiter, tieredCacheStore } from '@breakwater/redis';
import { createCache } from 'async-cache-dedupe';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { fmt, interleaved, ratio } from './measure.js';
import { markdownTable, quantile, seeded, VirtualClock } from './sim/index.js';

const smoke = process.argv.includes('--smoke');
const ROUNDS = smoke ? 3 : 15;
const CALLS = smoke ? 1_000 : 10_000;
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bwbench:${process.pid}`;
const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
try {
  await client.connect();
} catch (error) {
  console.error(
    `The cache benchmark needs a Redis at ${url}: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`,
  );
  throw error;
}
const sections: string[] = [];
const say = (text: string) => {
  console.log(`\n${text}`);
  sections.push(text);
};

// 1. A hit, in process.
const bare = async () => 1;
const memory = cache({ store: memoryCacheStore(), ttlMs: 3_600_000 });
const tiered = cache({
  store: tieredCacheStore({ l1: memoryCacheStore(), l2: redisCacheStore({ client, prefix }) }),
  ttlMs: 3_600_000,
});
const replays = idempotency({ store: memoryIdempotencyStore() });
const bento = new BentoCache({
  default: 'memory',
  stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
});
const dedupe = createCache({ ttl: 3_600, storage: { type: 'memory' } }).define(
  'fetchHot',
  async (_k: string) => 1,
);
const keyed = { key: 'hot' };
const idem = { idempotencyKey: 'replayed', fingerprint: 'f' };
await memory.execute(bare, keyed);
await tiered.execute(bare, keyed);
await replays.execute(bare, idem);
await bento.getOrSet({ key: 'hot', factory: bare, ttl: '1h' });
await dedupe.fetchHot('hot');
const hitCases = [
  { label: 'bare call `async () => 1`', run: bare, calls: CALLS },
  { label: 'breakwater cache hit, memoryCacheStore', run: () => memory.execute(bare, keyed), calls: CALLS },
  {
    label: 'breakwater cache hit, tieredCacheStore from L1',
    run: () => tiered.execute(bare, keyed),
    calls: CALLS,
  },
  {
    label: 'breakwater idempotency replay, memoryIdempotencyStore',
    run: () => replays.execute(bare, idem),
    calls: CALLS,
  },
  {
    label: 'bentocache 1.6 getOrSet hit, memory L1',
    run: () => bento.getOrSet({ key: 'hot', factory: bare, ttl: '1h' }),
    calls: CALLS,
  },
  { label: 'async-cache-dedupe 3 hit, memory', run: () => dedupe.fetchHot('hot'), calls: CALLS },
];
const hits = await interleaved(hitCases, ROUNDS, 'hits');
const bareNs = hits.get(hitCases[0]!)!;
const bwHit = hits.get(hitCases[1]!)! - bareNs;
say(
  [
    `### A hit in process (median of ${ROUNDS} interleaved rounds × ${CALLS.toLocaleString('en')} calls)`,
    '',
    markdownTable(
      ['case', 'per call', 'added over bare', 'vs breakwater memory hit'],
      hitCases.map((c) => {
        const added = hits.get(c)! - bareNs;
        return [
          c.label,
          fmt(hits.get(c)!),
          c === hitCases[0] ? '—' : fmt(added),
          c === hitCases[0] ? '—' : `${ratio(added / bwHit)}×`,
        ];
      }),
    ),
  ].join('\n'),
);

// 2. Round trips to Redis: an L2 hit, the shared rate limiter, and Bottleneck on Redis beside it.
const l2 = cache({ store: redisCacheStore({ client, prefix }), ttlMs: 3_600_000 });
await l2.execute(bare, keyed);
const limiter = redisRateLimiter({ client, prefix, ratePerSec: 1e9, burst: 1e9 });
const bottleneck = new Bottleneck({
  datastore: 'ioredis',
  // Bottleneck requires ioredis from where it is installed; hand it the one this package has.
  Redis,
  clearDatastore: true,
  id: `${prefix}-bottleneck`,
  clientOptions: { host: new URL(url).hostname, port: Number(new URL(url).port || 6379) },
  minTime: 0,
});
await bottleneck.ready();
const RT = smoke ? 200 : 2_000;
const tripCases = [
  { label: 'Redis PING round trip (baseline)', run: () => client.ping(), calls: RT },
  { label: 'breakwater cache hit, redisCacheStore (L2)', run: () => l2.execute(bare, keyed), calls: RT },
  { label: 'redisRateLimiter.tryAcquire (GCRA, one script)', run: () => limiter.tryAcquire(1), calls: RT },
  {
    label: 'Bottleneck 2 on Redis (ioredis datastore), schedule',
    run: () => bottleneck.schedule(bare),
    calls: smoke ? 20 : 200,
  },
];
const trips = await interleaved(tripCases, smoke ? 2 : 7, 'round trips');
const perSec = (c: (typeof tripCases)[number]) => 1e9 / trips.get(c)!;
say(
  [
    '### Round trips to Redis (sequential calls, one at a time)',
    '',
    markdownTable(
      ['case', 'per call', 'calls/s'],
      tripCases.map((c) => [c.label, fmt(trips.get(c)!), Math.round(perSec(c)).toLocaleString('en')]),
    ),
    '',
    `redisRateLimiter ÷ Bottleneck on Redis, throughput: ${ratio(perSec(tripCases[2]!) / perSec(tripCases[3]!))}×`,
  ].join('\n'),
);
await bottleneck.disconnect();

// 3. A stampede: 1,000 concurrent calls for one cold key, across 4 processes (Breakwater with
// redisCacheStore + redisLocks; idempotency with redisIdempotencyStore), and in one process for the peers.
const child = new URL('../../packages/redis/src/test-child.ts', import.meta.url).pathname;
async function race(mode: 'cache' | 'idempotency', runPrefix: string) {
  const startAt = Date.now() + 1_500;
  const t0 = Date.now();
  const outs = await Promise.all(
    Array.from({ length: 4 }, () =>
      promisify(execFile)(process.execPath, [
        '--import',
        'tsx',
        child,
        mode,
        runPrefix,
        '250',
        String(startAt),
      ]),
    ),
  );
  const answers: Record<string, number> = {};
  for (const { stdout } of outs)
    for (const [k, n] of Object.entries(JSON.parse(stdout) as Record<string, number>))
      answers[k] = (answers[k] ?? 0) + n;
  return {
    executions: Number(await client.get(`${runPrefix}:executions`)),
    answers,
    ms: Date.now() - t0 - 1_500,
  };
}
const stampede = await race('cache', `${prefix}:stampede`);
const duplicates = await race('idempotency', `${prefix}:duplicates`);
async function peerStampede(get: () => Promise<unknown>) {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 1_000 }, get));
  return performance.now() - t0;
}
let bentoLoads = 0;
const bentoCold = new BentoCache({
  default: 'm',
  stores: { m: bentostore().useL1Layer(memoryDriver({ maxItems: 100 })) },
});
const bentoMs = await peerStampede(() =>
  bentoCold.getOrSet({
    key: 'cold',
    ttl: '1h',
    factory: async () => {
      bentoLoads++;
      await new Promise((r) => setTimeout(r, 200));
      return 'v';
    },
  }),
);
let dedupeLoads = 0;
const dedupeCold = createCache({ ttl: 3_600, storage: { type: 'memory' } }).define(
  'cold',
  async (_k: string) => {
    dedupeLoads++;
    await new Promise((r) => setTimeout(r, 200));
    return 'v';
  },
);
const dedupeMs = await peerStampede(() => dedupeCold.cold('k'));
say(
  [
    '### A stampede: 1,000 concurrent calls for one cold key (the load takes 200 ms)',
    '',
    markdownTable(
      ['case', 'origin loads', 'answers', 'wall time'],
      [
        [
          'breakwater cache, redisCacheStore + redisLocks, 4 processes × 250',
          String(stampede.executions),
          JSON.stringify(stampede.answers),
          `${stampede.ms} ms`,
        ],
        [
          'breakwater idempotency, redisIdempotencyStore, 4 processes × 250 duplicates',
          String(duplicates.executions),
          JSON.stringify(duplicates.answers),
          `${duplicates.ms} ms`,
        ],
        [
          'bentocache 1.6, memory, 1 process × 1,000',
          String(bentoLoads),
          '1,000 × v',
          `${bentoMs.toFixed(0)} ms`,
        ],
        [
          'async-cache-dedupe 3, memory, 1 process × 1,000',
          String(dedupeLoads),
          '1,000 × v',
          `${dedupeMs.toFixed(0)} ms`,
        ],
      ],
    ),
    '',
    'The wall time of the 4-process rows starts at their common start signal and includes their exit.',
  ].join('\n'),
);

// 4. Steady reads across expiries, on the simulation kit's virtual clock: 1,000 reads/s for 60 s,
// TTL 1 s, a load of 50 ms. Loads per expiry, and readers that had to wait for one.
async function steady(options: { swr: boolean; xfetch: boolean }) {
  const clock = new VirtualClock(1_000_000);
  const policy = cache({
    store: memoryCacheStore({ clock }),
    ttlMs: 1_000,
    staleWhileRevalidateMs: options.swr ? 1_000 : 0,
    earlyRefresh: options.xfetch,
    clock,
    random: seeded(3),
  });
  const loadTimes: number[] = [];
  let waited = 0;
  const reads: Promise<unknown>[] = [];
  const durationMs = smoke ? 5_000 : 60_000;
  for (let t = 0; t < durationMs; t++) {
    clock.setTimeout(() => {
      const start = clock.now();
      reads.push(
        policy
          .execute(
            () =>
              new Promise((resolve) => {
                loadTimes.push(clock.now());
                clock.setTimeout(() => resolve(clock.now()), 50);
              }),
            { key: 'k' },
          )
          .then(() => {
            // The cold start (the first load, nothing to serve yet) is not counted: expiries are.
            if (clock.now() > start && start >= 1_000_000 + 100) waited++;
          }),
      );
    }, t);
  }
  await clock.runUntil(clock.now() + durationMs + 1_000);
  await Promise.all(reads);
  const expiries = durationMs / 1_000;
  // Early loads per expiry (XFetch): loads that started while the entry was still fresh.
  const perExpiry = Array.from(
    { length: expiries },
    (_, i) => loadTimes.filter((t) => t >= 1_000_000 + i * 1_000 && t < 1_000_000 + (i + 1) * 1_000).length,
  );
  return { loads: loadTimes.length, expiries, waited, medianPerWindow: quantile(perExpiry, 0.5) };
}
const plain = await steady({ swr: false, xfetch: false });
const swr = await steady({ swr: true, xfetch: false });
const xfetch = await steady({ swr: false, xfetch: true });
say(
  [
    `### Steady reads across expiries (virtual clock: 1,000 reads/s, TTL 1 s, a 50 ms load, ${plain.expiries} s)`,
    '',
    markdownTable(
      [
        'cache',
        'loads',
        'loads per expiry window of 1 s (median)',
        'reads that waited for a load (after the cold start)',
      ],
      [
        ['ttlMs only', String(plain.loads), String(plain.medianPerWindow), String(plain.waited)],
        ['+ staleWhileRevalidateMs', String(swr.loads), String(swr.medianPerWindow), String(swr.waited)],
        [
          '+ earlyRefresh (XFetch, β = 1)',
          String(xfetch.loads),
          String(xfetch.medianPerWindow),
          String(xfetch.waited),
        ],
      ],
    ),
  ].join('\n'),
);

const keys = await client.keys(`${prefix}*`);
if (keys.length > 0) await client.del(...keys);
client.disconnect();
const header = `# Cache and idempotency benchmarks\n\nNode ${process.version}${smoke ? ' (smoke run: figures are not meaningful)' : ''}.\n`;
const results = new URL(smoke ? '../results/smoke/' : '../results/', import.meta.url);
mkdirSync(results, { recursive: true });
writeFileSync(new URL('cache.md', results), `${header}\n${sections.join('\n\n')}\n`);
