// Scenario 6: offered load above capacity. Without shedding the queue grows until every answer is
// late; `loadShed` keeps the server at its capacity with short queues, and priorities keep critical
// traffic served through a spike of sheddable traffic. Fixed, AIMD, Gradient2 and Vegas side by side.

import { type Limit, limits, loadShed, type Priority } from '@breakwater/core';
import {
  Downstream,
  dist,
  drive,
  lineChart,
  markdownTable,
  quantile,
  seeded,
  VirtualClock,
} from '../sim/index.js';
import { type Check, ms, pct, type ScenarioOptions, type ScenarioResult } from './types.js';

const WORKERS = 10;
const SERVICE = dist.lognormal(10, 0.5); // mean 11.3 ms
const CAPACITY_PER_SEC = WORKERS / ((10 * Math.exp(0.125)) / 1_000); // ≈ 883/s
const CLIENT_TIMEOUT_MS = 1_000;

type LimitName = 'none' | 'fixed' | 'aimd' | 'gradient' | 'gradient-600' | 'vegas';
// Each limit as a user would set it for this server: a fixed guess of twice the workers; AIMD with a
// latency threshold just under 2× the unloaded p99; Gradient2 with a long window of ~6 s of calls
// (its default 600 samples span under a second at this rate: shown beside it); Vegas as it comes.
const LIMITS: Record<Exclude<LimitName, 'none'>, { label: string; make: () => Limit }> = {
  fixed: { label: `fixed(${2 * WORKERS})`, make: () => limits.fixed(2 * WORKERS) },
  aimd: {
    label: 'aimd({ latencyThresholdMs: 30 })',
    make: () => limits.aimd({ initial: WORKERS, latencyThresholdMs: 30 }),
  },
  gradient: {
    label: 'gradient({ longWindow: 5_000 })',
    make: () => limits.gradient({ initial: WORKERS, longWindow: 5_000 }),
  },
  'gradient-600': { label: 'gradient() (longWindow 600)', make: () => limits.gradient({ initial: WORKERS }) },
  vegas: { label: 'vegas()', make: () => limits.vegas({ initial: WORKERS }) },
};
const labelOf = (name: LimitName) => (name === 'none' ? 'no shedding' : LIMITS[name].label);

interface Load {
  priority: Priority;
  /** Calls per second, as a function of the time since the start. */
  ratePerSec: (elapsedMs: number) => number;
}

interface Served {
  offered: number;
  good: number;
  rejected: number;
  admittedLatencies: number[];
}

async function serve(limitName: LimitName, loads: Load[], durationMs: number, options: ScenarioOptions) {
  const clock = new VirtualClock();
  const random = seeded(options.seed);
  const server = new Downstream({
    clock,
    random: seeded(options.seed + 1),
    workers: WORKERS,
    service: SERVICE,
    onAbort: 'drop',
  });
  const shed =
    limitName === 'none'
      ? undefined
      : loadShed({
          limit: LIMITS[limitName].make(),
          maxQueue: WORKERS * 5,
          queueTimeoutMs: 50,
          clock,
          random,
        });
  const warmupMs = durationMs / 4;
  const by = new Map<Priority, Served>();
  const runs = loads.map((load, i) => {
    const stats: Served = { offered: 0, good: 0, rejected: 0, admittedLatencies: [] };
    by.set(load.priority, stats);
    return {
      random: seeded(options.seed + 10 + i),
      ratePerSec: load.ratePerSec,
      durationMs,
      onArrival: (_: number, at: number) => {
        const counted = at >= warmupMs;
        if (counted) stats.offered++;
        const start = clock.now();
        // The client gives up after 1 s; its abort reaches the server, which drops the request.
        const client = new AbortController();
        const timer = clock.setTimeout(() => client.abort(new Error('client timeout')), CLIENT_TIMEOUT_MS);
        let admittedAt: number | undefined;
        const work = () => {
          admittedAt = clock.now();
          return server.call(client.signal);
        };
        const call =
          shed === undefined
            ? work()
            : shed.execute(work, { priority: load.priority, signal: client.signal });
        return call.then(
          () => {
            clock.clearTimeout(timer);
            if (!counted) return;
            stats.good++;
            stats.admittedLatencies.push(clock.now() - start);
          },
          () => {
            clock.clearTimeout(timer);
            if (counted && admittedAt === undefined) stats.rejected++;
          },
        );
      },
    };
  });
  await drive(clock, { loads: runs, untilMs: durationMs + 2 * CLIENT_TIMEOUT_MS });
  const seconds = (durationMs - warmupMs) / 1_000;
  return { by, seconds };
}

const constant = (perSec: number) => () => perSec;

export async function overloadScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const durationMs = options.smoke ? 2_000 : 12_000;
  const names: LimitName[] = ['none', 'fixed', 'aimd', 'gradient', 'gradient-600', 'vegas'];
  const factors = [0.5, 1, 2, 4];
  const unloaded = await serve(
    'none',
    [{ priority: 'default', ratePerSec: constant(0.1 * CAPACITY_PER_SEC) }],
    durationMs,
    options,
  );
  const unloadedP99 = quantile(unloaded.by.get('default')!.admittedLatencies, 0.99);
  const grid = new Map<LimitName, { factor: number; goodput: number; p99: number; rejected: number }[]>();
  for (const name of names) {
    const rows = [];
    for (const factor of factors) {
      const { by, seconds } = await serve(
        name,
        [{ priority: 'default', ratePerSec: constant(factor * CAPACITY_PER_SEC) }],
        durationMs,
        options,
      );
      const s = by.get('default')!;
      rows.push({
        factor,
        goodput: s.good / seconds / CAPACITY_PER_SEC,
        p99: quantile(s.admittedLatencies, 0.99),
        rejected: s.rejected / s.offered,
      });
    }
    grid.set(name, rows);
  }
  // Critical traffic at 30% of capacity through a sheddable spike of 12× capacity (the middle third).
  const spikeFrom = durationMs / 3;
  const spikeTo = (2 * durationMs) / 3;
  const spike = new Map<LimitName, { critical: number; sheddable: number }>();
  for (const name of names) {
    const { by } = await serve(
      name,
      [
        { priority: 'critical', ratePerSec: constant(0.3 * CAPACITY_PER_SEC) },
        {
          priority: 'sheddable',
          ratePerSec: (t) => (t >= spikeFrom && t < spikeTo ? 12 : 0.2) * CAPACITY_PER_SEC,
        },
      ],
      durationMs,
      options,
    );
    const c = by.get('critical')!;
    const sh = by.get('sheddable')!;
    spike.set(name, { critical: c.good / c.offered, sheddable: sh.good / sh.offered });
  }
  const at = (name: LimitName, factor: number) => grid.get(name)!.find((r) => r.factor === factor)!;
  const table = markdownTable(
    [
      'limit',
      ...factors.map((f) => `goodput at ${f}×`),
      'admitted p99 at 2×',
      'rejected at 0.5×',
      'critical served in a 12× spike',
    ],
    names.map((name) => [
      labelOf(name),
      ...factors.map((f) => pct(at(name, f).goodput)),
      ms(at(name, 2).p99),
      pct(at(name, 0.5).rejected, 2),
      pct(spike.get(name)!.critical, 2),
    ]),
  );
  const adaptive: LimitName[] = ['aimd', 'gradient', 'vegas'];
  const checks: Check[] = adaptive.flatMap((name): Check[] => {
    const hi = factors.filter((f) => f >= 2);
    const worstGoodput = Math.min(...hi.map((f) => at(name, f).goodput));
    const worstP99 = Math.max(...hi.map((f) => at(name, f).p99));
    return [
      {
        target: `${labelOf(name)}: goodput ≥ 90% of capacity at 2× and 4×`,
        figure: pct(worstGoodput),
        met: worstGoodput >= 0.9,
      },
      {
        target: `${labelOf(name)}: admitted p99 ≤ 2× unloaded p99 (${ms(unloadedP99)})`,
        figure: ms(worstP99),
        met: worstP99 <= 2 * unloadedP99,
      },
      {
        target: `${labelOf(name)}: critical ≥ 99.4% served through a 12× sheddable spike`,
        figure: pct(spike.get(name)!.critical, 2),
        met: spike.get(name)!.critical >= 0.994,
      },
      {
        target: `${labelOf(name)}: ≤ 0.1% rejected at 0.5× capacity`,
        figure: pct(at(name, 0.5).rejected, 2),
        met: at(name, 0.5).rejected <= 0.001,
      },
    ];
  });
  const chart = lineChart({
    title: 'Overload: goodput against offered load',
    xLabel: 'offered load, × capacity',
    yLabel: 'goodput, % of capacity',
    markers: true,
    series: names.map((name) => ({
      name: name === 'gradient-600' ? 'gradient, 600' : name === 'none' ? 'no shedding' : name,
      points: grid.get(name)!.map((r) => [r.factor, r.goodput * 100] as const),
    })),
  });
  return {
    title: '6. Overload and adaptive shedding',
    anchor:
      'Netflix concurrency-limits (Gradient2, Vegas, AIMD); adaptive LIFO (Facebook, "Fail at Scale", 2015)',
    body: [
      `A server of ${WORKERS} workers (log-normal service, median 10 ms: ${Math.round(CAPACITY_PER_SEC)}/s) behind \`loadShed\` with a LIFO queue of ${WORKERS * 5} and \`queueTimeoutMs: 50\`; clients give up after 1 s and the server drops what they abandon. Goodput: answers within the timeout per second, as a share of capacity. Unloaded p99 (10% load): ${ms(unloadedP99)}. "p99" is of admitted calls, queue wait included.`,
      '',
      table,
    ].join('\n'),
    checks,
    charts: [{ file: 'overload-goodput.svg', svg: chart }],
  };
}
