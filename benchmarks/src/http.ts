// `npm run bench -- http`: what Breakwater's server stack costs on Express and Fastify, beside the bare
// framework and the peers' plugins doing the same job, measured with autocannon in one run; then an
// overload run (offered load above a fixed capacity) with and without `loadShed`.
//
// Each server runs in a child process, autocannon in this one: the two do not share a core. Stacks of
// one framework are measured in interleaved rounds (the order rotating each round) and the medians
// reported, so drift of the machine's speed falls on all of them alike.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { systemClock } from '@breakwater/core';
import autocannon from 'autocannon';
import { markdownTable, openLoop, quantile, seeded } from './sim/index.js';

const smoke = process.argv.includes('--smoke');
const ROUNDS = smoke ? 1 : 5;
const SECONDS = smoke ? 1 : 5;
const CONNECTIONS = 64;
const sections: string[] = [];
const say = (text: string) => {
  console.log(`\n${text}`);
  sections.push(text);
};

interface Server {
  url: string;
  child: ChildProcess;
}

async function start(framework: string, stack: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./http/server.ts', import.meta.url).pathname, framework, stack],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`${framework} ${stack} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, child };
}

async function stop(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill();
  await exited;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function cannon(url: string, seconds: number): Promise<Run> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
  };
}

const median = (xs: number[]) => quantile(xs, 0.5);
const num = (n: number) => Math.round(n).toLocaleString('en-US');
const pctOf = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(1)}%`;

// 1. Throughput: bare, Breakwater's stack, the peers' stack.
const STACKS = ['bare', 'breakwater', 'peers'] as const;
const PEERS: Record<string, string> = {
  fastify: '@fastify/under-pressure 9 + @fastify/rate-limit 10',
  express: 'express-rate-limit 8 (Express has no under-pressure)',
};
const rows: string[][] = [];
for (const framework of ['fastify', 'express']) {
  const servers: Record<string, Server> = {};
  for (const stack of STACKS) servers[stack] = await start(framework, stack);
  for (const stack of STACKS) await cannon(servers[stack]!.url, 1); // warm up: JIT, sockets
  const runs: Record<string, Run[]> = { bare: [], breakwater: [], peers: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < STACKS.length; i++) {
      const stack = STACKS[(i + round) % STACKS.length]!;
      process.stdout.write(`\r${framework}: round ${round + 1}/${ROUNDS}, ${stack}          `);
      runs[stack]!.push(await cannon(servers[stack]!.url, SECONDS));
    }
  }
  process.stdout.write('\n');
  for (const stack of STACKS) await stop(servers[stack]!);
  const bare = runs.bare!;
  const bareRps = median(bare.map((r) => r.rps));
  const bareP99 = median(bare.map((r) => r.p99));
  for (const stack of STACKS) {
    const r = runs[stack]!;
    const rps = median(r.map((x) => x.rps));
    const p99 = median(r.map((x) => x.p99));
    rows.push([
      framework,
      stack === 'peers'
        ? `peers: ${PEERS[framework]}`
        : stack === 'breakwater'
          ? 'Breakwater: timeout + loadShed + rateLimit'
          : 'bare',
      num(rps),
      stack === 'bare' ? '—' : pctOf(rps, bareRps),
      `${median(r.map((x) => x.p50)).toFixed(1)} ms`,
      `${p99.toFixed(1)} ms`,
      stack === 'bare' ? '—' : pctOf(p99, bareP99),
      String(r.reduce((a, x) => a + x.non2xx, 0)),
    ]);
  }
}
say(
  `## Throughput (autocannon, ${CONNECTIONS} connections, ${SECONDS} s × ${ROUNDS} interleaved rounds, medians)\n\n` +
    `Both stacks key the rate limit per client IP, with a limit no request reaches, so every request pays for\n` +
    `the check and none is refused; both send their rate-limit headers. Breakwater: \`timeout: 10_000\`,\n` +
    `\`loadShed: { limit: limits.aimd() }\`, \`rateLimit\` with a keyed \`limits.tokenBucket\`, \`key: keys.ip()\`.\n\n` +
    markdownTable(['framework', 'stack', 'req/s', 'vs bare', 'p50', 'p99', 'p99 vs bare', 'non-2xx'], rows),
);

// 2. Overload: an open-loop client above the handler's fixed capacity (4 workers, ~20 ms each).
const CAPACITY = 4 / ((20 * Math.exp(0.125)) / 1_000); // 4 workers over a log-normal mean service time
const CLIENT_TIMEOUT_MS = 2_000;
const overloadRows: string[][] = [];
const durationMs = smoke ? 1_000 : 8_000;
for (const framework of ['fastify', 'express']) {
  for (const [label, stack, factor] of [
    ['0.5× capacity, no protection', 'overload-bare', 0.5],
    ['2× capacity, no protection', 'overload-bare', 2],
    ['2× capacity, timeout 1 s', 'overload-timeout', 2],
    ['2× capacity, timeout 1 s + loadShed(gradient)', 'overload-shed', 2],
  ] as const) {
    process.stdout.write(`\roverload: ${framework}, ${label}                    `);
    const server = await start(framework, stack);
    const latencies: number[] = [];
    let inWindow = 0; // 200s answered before the offered load ended: the goodput
    let shed = 0;
    let failed = 0;
    let sent = 0;
    const pending: Promise<void>[] = [];
    const began0 = performance.now();
    await openLoop({
      clock: systemClock,
      random: seeded(5),
      ratePerSec: CAPACITY * factor,
      durationMs,
      onArrival: () => {
        sent++;
        const began = performance.now();
        pending.push(
          fetch(server.url, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) }).then(
            async (res) => {
              const body = await res.text();
              if (res.status === 200) {
                const now = performance.now();
                latencies.push(now - began);
                if (now - began0 <= durationMs) inWindow++;
              } else if (res.status === 503 && body.includes('BW_OVERLOADED')) shed++;
              else failed++; // a server timeout's 503 among them
            },
            () => {
              failed++;
            },
          ),
        );
      },
    });
    await Promise.all(pending);
    await stop(server);
    const goodput = inWindow / (durationMs / 1_000);
    overloadRows.push([
      framework,
      label,
      num(CAPACITY * factor),
      `${num(goodput)} (${((goodput / CAPACITY) * 100).toFixed(0)}% of capacity)`,
      latencies.length === 0 ? '—' : `${quantile(latencies, 0.5).toFixed(0)} ms`,
      latencies.length === 0 ? '—' : `${quantile(latencies, 0.99).toFixed(0)} ms`,
      `${((shed / sent) * 100).toFixed(1)}%`,
      `${((failed / sent) * 100).toFixed(1)}%`,
    ]);
  }
}
process.stdout.write('\n');
say(
  `## Overload (open loop, Poisson arrivals, ${durationMs / 1_000} s per row; capacity ≈ ${num(CAPACITY)} req/s)\n\n` +
    `The handler has 4 workers with log-normal service times (median 20 ms): what is offered above ~${num(CAPACITY)}/s\n` +
    `queues. Goodput counts the 200s answered while the load was offered (a queue drained afterwards does not\n` +
    `count); the client gives up after ${CLIENT_TIMEOUT_MS / 1_000} s (counted as failed, as are\n` +
    `the server's own timeouts' 503s). \`loadShed\`: \`limits.gradient({ initial: 4, longWindow: 2_000 })\`, \`maxQueue: 20\`,\n` +
    `\`queueTimeoutMs: 50\`; the same handler without a signal runs every queued request to the end.\n\n` +
    markdownTable(
      ['framework', 'stack', 'offered/s', 'goodput/s', 'p50 of 200s', 'p99 of 200s', 'shed (503)', 'failed'],
      overloadRows,
    ),
);

const header = `# HTTP benchmarks\n\nNode ${process.version}${smoke ? ' (smoke run: figures are not meaningful)' : ''}.\n`;
const results = new URL(smoke ? '../results/smoke/' : '../results/', import.meta.url);
mkdirSync(results, { recursive: true });
writeFileSync(new URL('http.md', results), `${header}\n${sections.join('\n\n')}\n`);
