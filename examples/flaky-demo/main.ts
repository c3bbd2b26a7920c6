// npm run demo: a flaky server on 127.0.0.1, called with plain fetch and through a Breakwater
// pipeline, phase by phase, with a table of what each client got and what it cost the server.
//
// Every fault is decided by a seeded hash of (request id, attempt number), never by arrival order,
// so both clients — and every run — meet exactly the same faults.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  backoff,
  breakers,
  bulkhead,
  circuitBreaker,
  compose,
  isBreakwaterError,
  retry,
  timeout,
} from '@breakwater/core';
import { createFetch } from '@breakwater/fetch';

const SEED = 42;
const FAILURE_RATE = 0.2; // answers 503
const STALL_RATE = 0.05; // stalls STALL_MS before answering
const STALL_MS = 1_500;
const SERVICE_MS = 20; // how long the server works on an ordinary request

interface Phase {
  name: string;
  requests: number;
  /** Requests arrive at this pace whatever happens to earlier ones (open loop); 0: all at once. */
  intervalMs: number;
  /** The server answers 503 to everything. */
  outage: boolean;
  what: string;
}

const PHASES: Phase[] = [
  { name: 'flaky', requests: 300, intervalMs: 5, outage: false, what: '20% 503s, 5% stalls of 1.5 s' },
  { name: 'outage', requests: 200, intervalMs: 5, outage: true, what: 'every request answered 503' },
  { name: 'recovery', requests: 200, intervalMs: 5, outage: false, what: 'flaky again, after the outage' },
  { name: 'burst', requests: 200, intervalMs: 0, outage: false, what: '200 requests at once' },
];

/**
 * The seed and a string hashed to [0, 1) (FNV-1a, then MurmurHash3's finaliser so that ids one
 * character apart land far apart): the same request and attempt always meet the same fault.
 */
function roll(key: string): number {
  let h = (0x811c9dc5 ^ SEED) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
}

async function startServer() {
  const attempts = new Map<string, number>();
  const stats = { seen: 0, inFlight: 0, peak: 0 };
  let outage = false;
  const server = createServer((req, res) => {
    const id = String(req.headers['x-demo-id']);
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    stats.seen++;
    stats.peak = Math.max(stats.peak, ++stats.inFlight);
    res.on('close', () => stats.inFlight--);
    const r = roll(`${id}#${attempt}`);
    if (outage || r < FAILURE_RATE) {
      setTimeout(() => res.writeHead(503).end('unavailable'), 2);
    } else if (r < FAILURE_RATE + STALL_RATE) {
      const timer = setTimeout(() => res.writeHead(200).end('slow ok'), STALL_MS);
      res.on('close', () => clearTimeout(timer));
    } else {
      setTimeout(() => res.writeHead(200).end('ok'), SERVICE_MS);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    stats,
    setOutage: (on: boolean) => {
      outage = on;
    },
    reset: () => {
      attempts.clear();
      Object.assign(stats, { seen: 0, inFlight: 0, peak: 0 });
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

type Client = (url: string, id: string) => Promise<Response>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Why a request failed, in the words the table uses. */
function failureKind(error: unknown): string {
  if (isBreakwaterError(error)) return error.code;
  return 'network error';
}

async function runPhase(server: Awaited<ReturnType<typeof startServer>>, phase: Phase, call: Client) {
  server.reset();
  server.setOutage(phase.outage);
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let ok = 0;
  const one = async (id: string) => {
    const t0 = performance.now();
    let kind: string | undefined;
    try {
      const response = await call(server.url, id);
      await response.arrayBuffer();
      if (response.ok) ok++;
      else kind = `HTTP ${response.status}`;
    } catch (error) {
      kind = failureKind(error);
    }
    if (kind !== undefined) failures.set(kind, (failures.get(kind) ?? 0) + 1);
    latencies.push(performance.now() - t0);
  };
  const calls: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < phase.requests; i++) {
    const due = start + i * phase.intervalMs;
    if (due > performance.now()) await delay(due - performance.now());
    calls.push(one(`${phase.name}-${i}`));
  }
  await Promise.all(calls);
  latencies.sort((a, b) => a - b);
  return {
    ok,
    failures,
    seen: server.stats.seen,
    peak: server.stats.peak,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const breaker = circuitBreaker({
  breaker: breakers.count({ size: 20, failureRate: 0.8, minCalls: 10 }),
  halfOpenAfterMs: 500,
});
const policy = compose(
  { name: 'flaky-demo' },
  bulkhead({ maxConcurrent: 20, maxQueue: 20 }), // at most 20 requests at the server, 20 waiting
  timeout(2_000, { name: 'total' }), // the whole call, retries included
  retry({ maxAttempts: 4, backoff: backoff.exponential({ initialMs: 10, maxMs: 200, jitter: 'full' }) }),
  breaker,
  timeout(250, { name: 'attempt' }), // each attempt: a stalled response is cut and retried
);
const resilientFetch = createFetch({ policy });
let transitions: string[] = [];
breaker.onStateChange(({ to }) => transitions.push(to));

const clients: Array<[string, Client]> = [
  ['plain fetch', (url, id) => fetch(url, { headers: { 'x-demo-id': id } })],
  ['breakwater', (url, id) => resilientFetch(url, { headers: { 'x-demo-id': id } })],
];

const server = await startServer();
const lines: string[] = [
  `Same seeded faults for both clients (seed ${SEED}). Pipeline: bulkhead(20 + 20 queued) → total timeout 2 s →`,
  'retry(4 attempts, full jitter) → circuitBreaker(80% of the last 20, open 0.5 s) → attempt timeout 250 ms.',
  '',
  '| phase | client | ok | failed | requests at the server | amplification | peak concurrency at the server | p50 | p99 |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
];
const notes: string[] = [];
for (const phase of PHASES) {
  for (const [name, call] of clients) {
    transitions = [];
    const r = await runPhase(server, phase, call);
    const failed = phase.requests - r.ok;
    lines.push(
      `| ${phase.name} (${phase.what}) | ${name} | ${r.ok} | ${failed} | ${r.seen} | ` +
        `${(r.seen / phase.requests).toFixed(2)}× | ${r.peak} | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms |`,
    );
    if (failed > 0) {
      const kinds = [...r.failures].map(([kind, n]) => `${n} ${kind}`).join(', ');
      const circuit =
        name === 'breakwater' && transitions.length > 0 ? `; circuit: ${transitions.join(' → ')}` : '';
      notes.push(`- ${phase.name}, ${name}: ${kinds}${circuit}`);
    }
  }
}
server.close();

const EXPLAIN: Record<string, string> = {
  'HTTP 503':
    "the server's own failures. Plain fetch passes every one to its caller; through the policy a 503 is " +
    'retried and comes back only when every attempt failed, or when the breaker stopped the retries.',
  BW_CIRCUIT_OPEN:
    'the breaker opened after a run of failures and refused calls without sending them, so the server ' +
    'saw a fraction of the traffic; every 0.5 s it let one trial through, and closed once one succeeded.',
  BW_BULKHEAD_FULL:
    'in the burst 20 requests ran and 20 waited; the rest were refused at once instead of piling onto ' +
    'the server (compare its peak concurrency).',
  BW_TIMEOUT: 'a call that could not finish within its 2 s total, retries included.',
  'network error': 'the connection failed (reset or refused) on every attempt.',
};

console.log(lines.join('\n'));
console.log('\nWhat the failures were:');
console.log(notes.join('\n'));
const seenKinds = new Set(
  notes.flatMap((line) => [...line.matchAll(/\d+ (HTTP \d+|BW_\w+|network error)/g)].map((m) => m[1]!)),
);
console.log('\nWhy:');
for (const kind of seenKinds)
  console.log(`- ${kind}: ${EXPLAIN[kind] ?? 'see the error code in the core README.'}`);
console.log(
  '- amplification is requests at the server per request made: what retries cost the server, and what the breaker and bulkhead saved it.',
);
