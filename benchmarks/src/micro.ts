// Overhead of each policy over the bare call, against cockatiel 3 in the same process.
// Medians of interleaved rounds: every round runs every case once, so drift in CPU speed or GC
// pressure spreads over all cases instead of landing on one.

import { getEventListeners } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import {
  breakers,
  bulkhead,
  chaos,
  circuitBreaker,
  compose,
  hedge,
  limits,
  loadShed,
  type Policy,
  type PolicyContext,
  presets,
  rateLimit,
  retry,
  retryBudget,
  throttle,
  timeout,
} from '@breakwater/core';
import { instrument } from '@breakwater/otel';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import Bottleneck from 'bottleneck';
import * as cockatiel from 'cockatiel';
import CircuitBreaker from 'opossum';
import pLimit from 'p-limit';
import pRetry from 'p-retry';
import { fmt, measure, median, ratio } from './measure.js';

const smoke = process.argv.includes('--smoke');
const ROUNDS = smoke ? 3 : 21;
const CALLS = smoke ? 2_000 : 10_000;

type Fn = () => Promise<unknown>;
interface Case {
  group: string;
  label: string;
  run: Fn;
  /** Cases with the same key are compared across libraries. */
  key?: string;
  /**
   * Cases that make an AbortController per call leave garbage that is collected during, and charged
   * to, whichever case runs next; they are measured in a phase of their own.
   */
  phase: 'ignores signal' | 'reads signal' | 'telemetry';
  /** Calls per sample, for a case too slow for the usual count (Bottleneck takes milliseconds a call). */
  calls?: number;
  /** Set up before each sample of this case, undone after it (instrument() for the telemetry case). */
  around?: () => () => void;
}

const bare = async (): Promise<number> => 1;
const readsSignal = async (ctx: PolicyContext): Promise<number> => (ctx.signal.aborted ? 0 : 1);
const readsCockatielSignal = async (ctx: { signal: AbortSignal }): Promise<number> =>
  ctx.signal.aborted ? 0 : 1;

const PEERS = ['cockatiel 3', 'opossum 9', 'p-retry 7', 'p-limit 7', 'Bottleneck 2'] as const;
const FOUR = 'four composed';

/** Each library's way of doing each job, by the key the side-by-side table compares them under. */
function bw(): Record<string, [label: string, policy: Policy]> {
  const breaker = () => circuitBreaker({ breaker: breakers.consecutive(5), halfOpenAfterMs: 10_000 });
  return {
    retry: ['retry', retry({ maxAttempts: 3 })],
    'retry with a budget': [
      'retry({ budget: retryBudget() })',
      retry({ maxAttempts: 3, budget: retryBudget() }),
    ],
    circuitBreaker: ['circuitBreaker', breaker()],
    'circuitBreaker, time window': [
      'circuitBreaker(breakers.time)',
      circuitBreaker({ breaker: breakers.time({ windowMs: 10_000 }), halfOpenAfterMs: 10_000 }),
    ],
    bulkhead: ['bulkhead', bulkhead({ maxConcurrent: 32, maxQueue: 64 })],
    timeout: ['timeout', timeout(2_000)],
    [FOUR]: [
      'compose(timeout, retry, circuitBreaker, bulkhead)',
      compose(
        timeout(2_000),
        retry({ maxAttempts: 3 }),
        breaker(),
        bulkhead({ maxConcurrent: 32, maxQueue: 64 }),
      ),
    ],
    'the HTTP preset': ['presets.http()', presets.http()],
    'hedge, answering before the delay': ['hedge({ delayMs: 1_000 })', hedge({ delayMs: 1_000 })],
    throttle: ['throttle()', throttle()],
    'rate limit, in process': [
      'rateLimit(limits.tokenBucket)',
      rateLimit({ limiter: limits.tokenBucket({ ratePerSec: 1e12, burst: 1e12 }) }),
    ],
    'chaos, disabled': ['chaos.fault({ enabled: false })', chaos.fault({ rate: 0.5, enabled: false })],
    'load shed, fixed limit': ['loadShed(limits.fixed(1_000))', loadShed({ limit: limits.fixed(1_000) })],
    'load shed, AIMD limit': [
      'loadShed(limits.aimd())',
      loadShed({ limit: limits.aimd({ initial: 1_000, max: 2_000 }) }),
    ],
  };
}

function ck(): Record<string, [label: string, policy: cockatiel.IPolicy]> {
  const r = (maxAttempts = 3) =>
    cockatiel.retry(cockatiel.handleAll, { maxAttempts, backoff: new cockatiel.ExponentialBackoff() });
  const c = () =>
    cockatiel.circuitBreaker(cockatiel.handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(5),
    });
  const sampling = (duration: number, threshold: number) =>
    cockatiel.circuitBreaker(cockatiel.handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.SamplingBreaker({ threshold, duration }),
    });
  const b = () => cockatiel.bulkhead(32, 64);
  const t = (ms = 2_000) => cockatiel.timeout(ms, cockatiel.TimeoutStrategy.Cooperative);
  return {
    retry: ['retry', r()],
    circuitBreaker: ['circuitBreaker', c()],
    'circuitBreaker, time window': ['circuitBreaker(SamplingBreaker)', sampling(10_000, 0.5)],
    bulkhead: ['bulkhead', b()],
    timeout: ['timeout', t()],
    [FOUR]: ['wrap(timeout, retry, breaker, bulkhead)', cockatiel.wrap(t(), r(), c(), b())],
    'the HTTP preset': [
      'wrap(bulkhead, timeout, retry, SamplingBreaker, timeout)',
      cockatiel.wrap(cockatiel.bulkhead(1_000, 0), t(30_000), r(2), sampling(30_000, 0.1), t(10_000)),
    ],
  };
}

/** opossum, p-retry, p-limit and Bottleneck do one job each; none hands fn a signal. */
function others(): Array<[group: string, key: string, label: string, run: Fn, calls?: number]> {
  const opossum = new CircuitBreaker(bare, { timeout: false, rollingCountTimeout: 10_000 });
  const limit = pLimit(32);
  const bottleneck = new Bottleneck({ minTime: 0 });
  return [
    [
      'opossum 9',
      'circuitBreaker, time window',
      'new CircuitBreaker(fn, { timeout: false }).fire()',
      () => opossum.fire(),
    ],
    ['p-retry 7', 'retry', 'pRetry(fn, { retries: 2 })', () => pRetry(bare, { retries: 2 })],
    ['p-limit 7', 'bulkhead', 'pLimit(32)(fn)', () => limit(bare)],
    [
      'Bottleneck 2',
      'rate limit, in process',
      'new Bottleneck({ minTime: 0 }).schedule(fn)',
      () => bottleneck.schedule(bare),
      200,
    ],
  ];
}

function cases(): Case[] {
  const list: Case[] = [];
  list.push({
    group: 'baseline',
    phase: 'ignores signal',
    label: 'setTimeout + clearTimeout per call',
    run: () => {
      const handle = setTimeout(() => {}, 2_000);
      return bare().finally(() => clearTimeout(handle));
    },
  });
  list.push({
    group: 'baseline',
    phase: 'reads signal',
    label: 'AbortController per call, fn reads its signal',
    run: () => readsCockatielSignal(new AbortController()),
  });
  list.push({
    group: 'baseline',
    phase: 'reads signal',
    label: 'AbortController + timer per call',
    run: () => {
      const controller = new AbortController();
      const handle = setTimeout(() => controller.abort(), 2_000);
      return readsCockatielSignal(controller).finally(() => clearTimeout(handle));
    },
  });
  for (const [signal, bwFn, ckFn] of [
    ['ignores', bare, bare],
    ['reads', readsSignal, readsCockatielSignal],
  ] as const) {
    const phase = `${signal} signal` as const;
    const libraries = [
      ['breakwater', bw(), bwFn],
      ['cockatiel 3', ck(), ckFn],
    ] as Array<
      [string, Record<string, [string, { execute(fn: typeof bwFn): Promise<unknown> }]>, typeof bwFn]
    >;
    for (const [group, entries, fn] of libraries) {
      for (const [key, [label, policy]] of Object.entries(entries)) {
        list.push({
          group,
          label: `${label}, fn ${phase}`,
          phase,
          run: () => policy.execute(fn),
          key: `${key}, fn ${phase}`,
        });
      }
    }
  }
  for (const [group, key, label, run, calls] of others()) {
    list.push({ group, label, phase: 'ignores signal', run, key: `${key}, fn ignores signal`, calls });
  }
  // Telemetry: the four composed with instrument() subscribed (metrics into a real SDK MeterProvider)
  // beside the same pipeline without, in one phase; instrument() is on only while its case runs.
  const [, plain] = bw()[FOUR]!;
  const reader = new (class extends MetricReader {
    protected async onShutdown(): Promise<void> {}
    protected async onForceFlush(): Promise<void> {}
  })();
  const meterProvider = new MeterProvider({ readers: [reader] });
  list.push({
    group: 'breakwater',
    label: `${bw()[FOUR]![0]}, no telemetry`,
    phase: 'telemetry',
    run: () => plain.execute(bare),
  });
  list.push({
    group: 'breakwater',
    label: `${bw()[FOUR]![0]}, instrument() with metrics on`,
    phase: 'telemetry',
    run: () => plain.execute(bare),
    around: () => {
      const telemetry = instrument({ meterProvider });
      return () => telemetry.dispose();
    },
  });
  return list;
}

const collect = (globalThis as { gc?: () => void }).gc;

async function runPhase(phase: Case['phase'], all: Case[]): Promise<Map<Case, number>> {
  const list = [
    { group: 'baseline', label: 'bare call `async () => 1`', run: bare, phase },
    ...all.filter((c) => c.phase === phase),
  ];
  const samples = new Map<Case, number[]>(list.map((c) => [c, []]));
  collect?.();
  const sample = async (c: Case): Promise<number> => {
    const undo = c.around?.();
    try {
      return await measure(c.run, Math.min(CALLS, c.calls ?? CALLS));
    } finally {
      undo?.();
    }
  };
  for (const c of list) await sample(c); // warm-up: let every case reach optimised code
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no case always runs right after the same neighbour.
    for (let i = 0; i < list.length; i++) {
      const c = list[(i + round) % list.length]!;
      samples.get(c)!.push(await sample(c));
    }
    // A terminal gets one line rewritten in place; a log (CI, a pipe) gets one line per round.
    const progress = `${phase}: round ${round + 1}/${ROUNDS}`;
    process.stderr.write(process.stderr.isTTY ? `\r${progress}` : `${progress}\n`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  return new Map([...samples].map(([c, ns]) => [c, median(ns)]));
}

async function overhead(): Promise<string> {
  const all = cases();
  const lines = [
    `Overhead per call (median of ${ROUNDS} interleaved rounds × ${CALLS.toLocaleString('en')} sequential calls, per phase)`,
  ];
  const added = new Map<Case, number>();
  for (const phase of ['ignores signal', 'reads signal', 'telemetry'] as const) {
    const medians = await runPhase(phase, all);
    const [bareCase] = medians.keys();
    const bareNs = medians.get(bareCase!)!;
    lines.push(
      '',
      `Phase: ${phase === 'telemetry' ? 'telemetry (fn ignores signal)' : `fn ${phase}`}`,
      '',
      '| library | case | ns per call | added over bare |',
      '| --- | --- | ---: | ---: |',
    );
    for (const [c, ns] of medians) {
      added.set(c, ns - bareNs);
      lines.push(`| ${c.group} | ${c.label} | ${fmt(ns)} | ${c === bareCase ? '—' : fmt(ns - bareNs)} |`);
    }
  }
  const keys = [
    ...new Set(all.flatMap((c) => (c.key === undefined || c.group !== 'breakwater' ? [] : [c.key]))),
  ];
  lines.push(
    '',
    'Added over the bare call, side by side (— : the library has no such policy, or hands fn no signal)',
    '',
    `| case | breakwater | ${PEERS.join(' | ')} | fastest peer ÷ breakwater |`,
    `| --- | ---: | ${PEERS.map(() => '---:').join(' | ')} | ---: |`,
  );
  for (const key of keys) {
    const ours = added.get(all.find((c) => c.key === key && c.group === 'breakwater')!)!;
    const theirs = PEERS.map((group) => {
      const c = all.find((x) => x.key === key && x.group === group);
      return c === undefined ? undefined : added.get(c);
    });
    const known = theirs.filter((t): t is number => t !== undefined);
    const fastest = known.length === 0 ? undefined : Math.min(...known);
    lines.push(
      `| ${key} | ${fmt(ours)} | ${theirs.map((t) => (t === undefined ? '—' : fmt(t))).join(' | ')} | ${
        fastest === undefined ? '—' : `${ratio(fastest / Math.max(1, ours))}×`
      } |`,
    );
  }
  const telemetry = all.filter((c) => c.phase === 'telemetry');
  const [off, on] = telemetry.map((c) => added.get(c)!);
  lines.push(
    '',
    `Telemetry: instrument() adds ${fmt(on! - off!)} per call to the four composed (${fmt(off!)} → ${fmt(on!)} over bare), measured in one phase`,
  );
  return lines.join('\n');
}

async function retention(): Promise<string> {
  const total = smoke ? 20_000 : 1_000_000;
  const inFlight = 100;
  const policy = compose(
    timeout(2_000),
    retry({ maxAttempts: 3 }),
    circuitBreaker({ breaker: breakers.consecutive(5), halfOpenAfterMs: 10_000 }),
    bulkhead({ maxConcurrent: inFlight }),
  );
  const caller = new AbortController();
  const gc = collect;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const worker = async (calls: number, fn: (ctx: PolicyContext) => Promise<number>) => {
    for (let i = 0; i < calls; i++) await policy.execute(fn, { signal: caller.signal });
  };
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      await tick();
      gc();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, () => worker(100, readsSignal)));
  await settle();
  const before = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, (_, i) => worker(total / inFlight, i % 2 === 0 ? readsSignal : bare)),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await settle();
  const after = process.memoryUsage().heapUsed;
  const listeners = getEventListeners(caller.signal, 'abort').length;
  const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  return [
    `Retention: ${total.toLocaleString('en')} calls through compose(timeout, retry, circuitBreaker, bulkhead), ` +
      `${inFlight} in flight, one long-lived caller signal, half the calls reading ctx.signal (${seconds.toFixed(1)} s)`,
    '',
    '| measure | value |',
    '| --- | ---: |',
    `| heap retained after GC | ${((after - before) / 1024).toFixed(1)} KiB |`,
    `| listeners left on the caller's signal | ${listeners} |`,
    `| ref'd timers keeping the process alive | ${timers} |`,
  ].join('\n');
}

const header = `Node ${process.version}, ${process.platform}/${process.arch}${smoke ? ' (smoke run: figures are not meaningful)' : ''}`;
const overheadTable = await overhead();
console.log(`${header}\n\n${overheadTable}\n`);
const retentionTable = await retention();
console.log(`${retentionTable}\n`);
const report = [header, '', overheadTable, '', retentionTable, ''].join('\n');
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
writeFileSync(new URL('../results/micro.md', import.meta.url), report);
