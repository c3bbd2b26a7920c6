// npm run demo: a flaky server on 127.0.0.1, called with plain fetch and through a Breakwater
// pipeline, with a table of what happened. The server's faults come from a seeded generator, so
// both runs meet the same sequence of slow and failing responses.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoff, breakers, bulkhead, circuitBreaker, compose, retry, timeout } from '@breakwater/core';
import { createFetch } from '@breakwater/fetch';

const REQUESTS = 300;
const CONCURRENCY = 20;
const FAILURE_RATE = 0.2; // answers 503
const SLOW_RATE = 0.05; // stalls for SLOW_MS before answering
const SLOW_MS = 1_500;

/** mulberry32: a tiny seeded PRNG, so every run of the demo sees the same faults. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function startFlakyServer(seed: number): Promise<{ server: Server; url: string }> {
  const random = seeded(seed);
  const server = createServer((req, res) => {
    const roll = random();
    const latencyMs = 2 + Math.floor(random() * 10);
    if (roll < FAILURE_RATE) {
      setTimeout(() => {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
      }, latencyMs);
    } else if (roll < FAILURE_RATE + SLOW_RATE) {
      const timer = setTimeout(() => res.writeHead(200).end('slow ok'), SLOW_MS);
      req.socket.once('close', () => clearTimeout(timer));
    } else {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'), latencyMs);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

interface Row {
  client: string;
  ok: number;
  failed: number;
  retries: number;
  p50: number;
  p99: number;
  seconds: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

async function run(
  client: string,
  call: (url: string) => Promise<Response>,
  retries: () => number,
): Promise<Row> {
  const { server, url } = await startFlakyServer(42);
  const latencies: number[] = [];
  let ok = 0;
  let failed = 0;
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < REQUESTS) {
      next++;
      const t0 = performance.now();
      try {
        const response = await call(url);
        await response.arrayBuffer();
        if (response.ok) ok++;
        else failed++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - t0);
      if (process.stdout.isTTY) process.stdout.write(`\r${client}: ${ok + failed}/${REQUESTS}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (process.stdout.isTTY) process.stdout.write('\n');
  server.closeAllConnections();
  server.close();
  latencies.sort((a, b) => a - b);
  return {
    client,
    ok,
    failed,
    retries: retries(),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    seconds: (performance.now() - started) / 1_000,
  };
}

const retryPolicy = retry({
  maxAttempts: 4,
  backoff: backoff.exponential({ initialMs: 10, maxMs: 200, jitter: 'full' }),
});
let retries = 0;
retryPolicy.onRetry(() => {
  retries++;
});
const policy = compose(
  { name: 'flaky-demo' },
  timeout(2_000, { name: 'total' }), // the whole call, retries included
  retryPolicy,
  circuitBreaker({
    breaker: breakers.count({ size: 50, failureRate: 0.8, minCalls: 20 }),
    halfOpenAfterMs: 1_000,
  }),
  bulkhead({ maxConcurrent: CONCURRENCY, maxQueue: CONCURRENCY }),
  timeout(250, { name: 'attempt' }), // each attempt: a stalled response is cut and retried
);
const resilientFetch = createFetch({ policy });

const rows = [
  await run(
    'plain fetch',
    (url) => fetch(url),
    () => 0,
  ),
  await run(
    'createFetch + policy',
    (url) => resilientFetch(url),
    () => retries,
  ),
];

console.log(
  `\n${REQUESTS} GET requests, ${CONCURRENCY} at a time; the server fails ${FAILURE_RATE * 100}% with 503 and stalls ${SLOW_RATE * 100}% for ${SLOW_MS} ms\n`,
);
console.log('| client | successes | failures | retries | p50 latency | p99 latency | wall time |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.client} | ${r.ok} | ${r.failed} | ${r.retries} | ${r.p50.toFixed(1)} ms | ${r.p99.toFixed(1)} ms | ${r.seconds.toFixed(2)} s |`,
  );
}
