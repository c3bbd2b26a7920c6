// Scenario 4, after the Google SRE book, "Handling Overload": client-side adaptive throttling with
// k = 2 lets about two requests reach the backend per one it accepts, whatever the overload.

import { throttle } from '@breakwater/core';
import {
  Downstream,
  DownstreamError,
  dist,
  drive,
  markdownTable,
  seeded,
  VirtualClock,
} from '../sim/index.js';
import { type Check, pct, type ScenarioOptions, type ScenarioResult } from './types.js';

const WORKERS = 10;
const SERVICE_MS = 100;
const CAPACITY_PER_SEC = (WORKERS * 1_000) / SERVICE_MS;

async function overload(factor: number, options: ScenarioOptions) {
  const clock = new VirtualClock();
  const random = seeded(options.seed);
  // A backend that refuses cheaply what it cannot take: workers plus a short queue.
  const backend = new Downstream({
    clock,
    random,
    workers: WORKERS,
    maxQueue: WORKERS,
    service: dist.constant(SERVICE_MS),
  });
  const policy = throttle({ k: 2, clock, random });
  const warmupMs = options.smoke ? 1_000 : 120_000;
  const measureMs = options.smoke ? 2_000 : 60_000;
  let accepted = 0;
  let rejected = 0;
  let local = 0;
  await drive(clock, {
    untilMs: warmupMs + measureMs + 1_000,
    loads: [
      {
        random,
        ratePerSec: CAPACITY_PER_SEC * factor,
        durationMs: warmupMs + measureMs,
        onArrival: (_, at) => {
          const counted = at >= warmupMs;
          return policy
            .execute(() => backend.call())
            .then(
              () => {
                if (counted) accepted++;
              },
              (error: unknown) => {
                if (!counted) return;
                if (error instanceof DownstreamError) rejected++;
                else local++;
              },
            );
        },
      },
    ],
  });
  const seconds = measureMs / 1_000;
  return {
    factor,
    ratio: rejected / accepted,
    goodput: accepted / seconds / CAPACITY_PER_SEC,
    local: local / (local + accepted + rejected),
  };
}

export async function throttlingScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const rows = [await overload(4, options), await overload(10, options)];
  const table = markdownTable(
    ['offered load', 'backend rejected : accepted', 'goodput (of capacity)', 'rejected locally'],
    rows.map((r) => [`${r.factor}× capacity`, r.ratio.toFixed(2), pct(r.goodput), pct(r.local)]),
  );
  const checks: Check[] = rows.flatMap((r): Check[] => [
    {
      target: `${r.factor}×: backend rejected:accepted in 0.9–1.1`,
      figure: r.ratio.toFixed(2),
      met: r.ratio >= 0.9 && r.ratio <= 1.1,
    },
    { target: `${r.factor}×: goodput ≥ 95% of capacity`, figure: pct(r.goodput), met: r.goodput >= 0.95 },
  ]);
  return {
    title: '4. Client-side throttling, k = 2',
    anchor:
      'Google SRE book, "Handling Overload": with k = 2 the backend sees about twice the requests it accepts',
    body: [
      `A backend of ${WORKERS} workers (${SERVICE_MS} ms each, ${CAPACITY_PER_SEC}/s) with a ${WORKERS}-deep queue that refuses the rest at once; one client behind \`throttle({ k: 2 })\` (default 120 s window) offering Poisson load, measured over a minute after a two-minute warm-up.`,
      '',
      table,
    ].join('\n'),
    checks,
    charts: [],
  };
}
