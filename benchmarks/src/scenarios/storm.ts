// Scenario 5: a metastable retry storm (Bronson et al., "Metastable Failures in Distributed
// Systems", HotOS 2021; Huang et al., "Metastable Failures in the Wild", OSDI 2022). A short
// capacity cut starts timeouts; retries of requests the server still works on keep it overloaded
// after the cut ends, unless retries are budgeted, clients throttle and the server sheds.

import {
  compose,
  isBreakwaterError,
  limits,
  loadShed,
  type Policy,
  retry,
  retryBudget,
  throttle,
  timeout,
} from '@breakwater/core';
import {
  Downstream,
  dist,
  drive,
  lineChart,
  markdownTable,
  seeded,
  Timeline,
  VirtualClock,
} from '../sim/index.js';
import { type Check, pct, type ScenarioOptions, type ScenarioResult } from './types.js';

const WORKERS = 10;
const SERVICE = dist.exponential(10); // 10 workers × 10 ms: 1,000/s
const LOAD_PER_SEC = 700;
const TIMEOUT_MS = 1_000;
const TRIGGER_AT_MS = 10_000;
const TRIGGER_MS = 2_000;
const BUCKET_MS = 1_000;

interface Run {
  goodput: number[];
  amplification: number[];
  recoveredAfterMs: number | undefined;
  peakAmplification: number;
}

type Variant = 'bare' | 'protected' | 'protected, no floor';

async function storm(variant: Variant, options: ScenarioOptions): Promise<Run> {
  const clock = new VirtualClock();
  const random = seeded(options.seed);
  const timeline = new Timeline(BUCKET_MS);
  // A server that never learns its clients gave up: timed-out requests are still served.
  const server = new Downstream({
    clock,
    random: seeded(options.seed + 1),
    workers: WORKERS,
    service: SERVICE,
    onAbort: 'ignore',
  });
  let handle: () => Promise<void> = () => server.call();
  let client: Policy;
  if (variant !== 'bare') {
    const shed = loadShed({
      limit: limits.gradient({ initial: WORKERS, max: 200 }),
      maxQueue: 100,
      queueTimeoutMs: 200,
      clock,
      random,
    });
    shed.onShed(() => timeline.add('shed', clock.now()));
    handle = () => shed.execute(() => server.call());
    // Every attempt passes the throttle; an attempt it refused locally is not retried.
    client = compose(
      retry({
        maxAttempts: 5,
        budget: retryBudget({ windowMs: 1_000, minPerSecond: variant === 'protected' ? 10 : 0, clock }),
        retryOn: (outcome) =>
          'error' in outcome && !(isBreakwaterError(outcome.error) && outcome.error.code === 'BW_THROTTLED'),
        clock,
        random,
      }),
      throttle({ k: 2, windowMs: 10_000, clock, random }),
      timeout(TIMEOUT_MS, { clock }),
    );
  } else {
    client = compose(retry({ maxAttempts: 5, clock, random }), timeout(TIMEOUT_MS, { clock }));
  }
  const durationMs = options.smoke ? 16_000 : 40_000;
  clock.setTimeout(() => server.setWorkers(WORKERS * 0.2), TRIGGER_AT_MS);
  clock.setTimeout(() => server.setWorkers(WORKERS), TRIGGER_AT_MS + TRIGGER_MS);
  // The clock runs on past the load to let the backlog drain, so nothing is left pending.
  await drive(clock, {
    untilMs: durationMs + 120_000,
    loads: [
      {
        random,
        ratePerSec: LOAD_PER_SEC,
        durationMs,
        onArrival: (_, at) => {
          timeline.add('calls', at);
          return client
            .execute(() => {
              timeline.add('attempts', clock.now());
              return handle();
            })
            .then(
              () => timeline.add('good', clock.now()),
              () => undefined,
            );
        },
      },
    ],
  });
  const buckets = durationMs / BUCKET_MS;
  const calls = timeline.counts('calls', buckets);
  const goodput = timeline.rates('good', buckets);
  const amplification = timeline.counts('attempts', buckets).map((n, i) => n / (calls[i] || 1));
  const end = (TRIGGER_AT_MS + TRIGGER_MS) / BUCKET_MS;
  // Goodput as a share of the calls made in the same second, so Poisson noise in the load cancels.
  const share = timeline.counts('good', buckets).map((n, i) => n / (calls[i] || 1));
  // Recovered: the first second after the trigger from which every second's share is ≥ 95%.
  let recovered: number | undefined;
  for (let i = end; i < buckets - 1; i++) {
    if (share.slice(i, buckets - 1).every((g) => g >= 0.95)) {
      recovered = i;
      break;
    }
  }
  return {
    goodput,
    amplification,
    recoveredAfterMs:
      recovered === undefined ? undefined : (recovered + 1) * BUCKET_MS - TRIGGER_AT_MS - TRIGGER_MS,
    peakAmplification: Math.max(...amplification.slice(1, buckets - 1)),
  };
}

export async function stormScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const bare = await storm('bare', options);
  const guarded = await storm('protected', options);
  const noFloor = await storm('protected, no floor', options);
  const describe = (r: Run) =>
    r.recoveredAfterMs === undefined ? 'never' : `${(r.recoveredAfterMs / 1_000).toFixed(1)} s after`;
  const table = markdownTable(
    ['client and server', 'goodput back to ≥ 95%', 'peak amplification', 'goodput in the last 5 s'],
    [
      [
        'retry ×5 + timeout 1 s',
        describe(bare),
        `${bare.peakAmplification.toFixed(2)}×`,
        pct(tail(bare.goodput) / LOAD_PER_SEC),
      ],
      [
        '+ `retryBudget({ windowMs: 1_000 })`, `throttle`, server `loadShed` (Gradient2)',
        describe(guarded),
        `${guarded.peakAmplification.toFixed(3)}×`,
        pct(tail(guarded.goodput) / LOAD_PER_SEC),
      ],
      [
        'the same, budget with `minPerSecond: 0`',
        describe(noFloor),
        `${noFloor.peakAmplification.toFixed(3)}×`,
        pct(tail(noFloor.goodput) / LOAD_PER_SEC),
      ],
    ],
  );
  const checks: Check[] = [
    {
      target: 'without protection goodput never comes back',
      figure: describe(bare),
      met: bare.recoveredAfterMs === undefined,
    },
    {
      target: 'protected: ≥ 95% within 5 s of the trigger ending',
      figure: describe(guarded),
      met: guarded.recoveredAfterMs !== undefined && guarded.recoveredAfterMs <= 5_000,
    },
    {
      target: 'protected: peak amplification ≤ 1.1× (default budget floor of 10 retries/s)',
      figure: `${guarded.peakAmplification.toFixed(3)}×`,
      met: guarded.peakAmplification <= 1.1,
    },
    {
      target: 'protected: peak amplification ≤ 1.1× (budget `minPerSecond: 0`)',
      figure: `${noFloor.peakAmplification.toFixed(3)}×`,
      met: noFloor.peakAmplification <= 1.1,
    },
  ];
  const x = (i: number) => ((i + 1) * BUCKET_MS) / 1_000;
  const bands = [
    { from: TRIGGER_AT_MS / 1_000, to: (TRIGGER_AT_MS + TRIGGER_MS) / 1_000, label: 'capacity −80%' },
  ];
  return {
    title: '5. Metastable retry storm',
    anchor:
      'Bronson et al. (HotOS 2021), Huang et al. (OSDI 2022): a trigger ends but retries sustain the overload',
    body: [
      `A server of ${WORKERS} workers (exponential service, mean 10 ms: 1,000/s) that serves even requests whose client has given up; ${LOAD_PER_SEC} calls/s; clients time out after 1 s and make up to 5 attempts; capacity cut by 80% for 2 s at t = 10 s. Goodput counts answers the client received in time; amplification is attempts ÷ calls per ${BUCKET_MS} ms. Protected: the budget's window is 1 s so it bounds each second rather than ten (a 10 s window lets a second's retries burst to its whole allowance); every attempt passes \`throttle({ k: 2, windowMs: 10_000 })\`; the server runs \`loadShed({ limit: limits.gradient(), maxQueue: 100, queueTimeoutMs: 200 })\`. The budget's default floor of 10 retries/s is 1.4% of 700 calls/s, which is the difference between its two rows.`,
      '',
      table,
    ].join('\n'),
    checks,
    charts: [
      {
        file: 'storm-goodput.svg',
        svg: lineChart({
          title: 'Retry storm: goodput',
          xLabel: 'time, s',
          yLabel: 'answers in time per second',
          bands,
          series: [
            { name: 'unprotected', points: bare.goodput.map((g, i) => [x(i), g] as const) },
            { name: 'protected', points: guarded.goodput.map((g, i) => [x(i), g] as const) },
            { name: 'protected, no floor', points: noFloor.goodput.map((g, i) => [x(i), g] as const) },
          ],
        }),
      },
      {
        file: 'storm-amplification.svg',
        svg: lineChart({
          title: 'Retry storm: amplification (attempts per call)',
          xLabel: 'time, s',
          yLabel: 'attempts ÷ calls',
          bands,
          series: [
            { name: 'unprotected', points: bare.amplification.map((a, i) => [x(i), a] as const) },
            { name: 'protected', points: guarded.amplification.map((a, i) => [x(i), a] as const) },
            { name: 'protected, no floor', points: noFloor.amplification.map((a, i) => [x(i), a] as const) },
          ],
        }),
      },
    ],
  };
}

const tail = (goodput: number[]) => {
  const last = goodput.slice(-11, -1);
  return last.reduce((a, b) => a + b, 0) / last.length;
};
