// Scenario 2, after Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015):
// clients racing optimistic writes to one record, retrying conflicts with capped exponential backoff.

import type { ExponentialJitter } from '@breakwater/core';
import { backoff, retry } from '@breakwater/core';
import { dist, lineChart, markdownTable, quantile, seeded, sleep, VirtualClock } from '../sim/index.js';
import type { Check, ScenarioOptions, ScenarioResult } from './types.js';

/** An optimistic write: read the version, take `workMs`, commit only if nobody committed meanwhile. */
class Record {
  version = 0;
  calls = 0;
}

class Conflict extends Error {}

const WORK = dist.uniform(4, 6); // a read–modify–write round trip, ms

async function race(clients: number, jitter: ExponentialJitter, options: ScenarioOptions) {
  const clock = new VirtualClock();
  const random = seeded(options.seed);
  const record = new Record();
  const policy = retry({
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: backoff.exponential({ initialMs: 10, maxMs: 2_000, jitter }),
    retryOn: (outcome) => 'error' in outcome && outcome.error instanceof Conflict,
    clock,
    random,
  });
  const write = async (): Promise<void> => {
    record.calls++;
    const seen = record.version;
    await sleep(clock, WORK(random));
    if (record.version !== seen) throw new Conflict('conflict');
    record.version++;
  };
  const finished: number[] = [];
  const all = Promise.all(
    Array.from({ length: clients }, () => policy.execute(write).then(() => void finished.push(clock.now()))),
  );
  // Run the clock in long slices until every client has written.
  while (finished.length < clients) await clock.runUntil(clock.now() + 60_000);
  await all;
  return { calls: record.calls, completionMs: Math.max(...finished), medianMs: quantile(finished, 0.5) };
}

export async function jitterScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const kinds: ExponentialJitter[] = ['none', 'equal', 'full', 'decorrelated'];
  const counts = options.smoke ? [10, 25] : [10, 25, 50, 100, 200];
  const results = new Map<ExponentialJitter, Awaited<ReturnType<typeof race>>[]>();
  for (const kind of kinds) {
    const runs = [];
    for (const n of counts) runs.push(await race(n, kind, options));
    results.set(kind, runs);
  }
  const at = (kind: ExponentialJitter, i: number) => results.get(kind)![i]!;
  const last = counts.length - 1;
  const table = markdownTable(
    ['jitter', ...counts.map((n) => `calls, ${n} clients`), `work done by, ${counts[last]} clients`],
    kinds.map((kind) => [
      kind,
      ...counts.map((_, i) => at(kind, i).calls.toLocaleString('en-US')),
      `${(at(kind, last).completionMs / 1_000).toFixed(2)} s`,
    ]),
  );
  const none = at('none', last).calls;
  const full = at('full', last).calls;
  const checks: Check[] = [
    {
      target: `full jitter ≥ 50% fewer calls than no jitter (${counts[last]} clients)`,
      figure: `${full.toLocaleString('en-US')} vs ${none.toLocaleString('en-US')}: ${((1 - full / none) * 100).toFixed(0)}% fewer`,
      met: full <= none / 2,
    },
  ];
  const chart = lineChart({
    title: 'Backoff and jitter: calls to finish every optimistic write',
    xLabel: 'contending clients',
    yLabel: 'calls (log)',
    logY: true,
    markers: true,
    series: kinds.map((kind) => ({
      name: kind,
      points: counts.map((n, i) => [n, at(kind, i).calls] as const),
    })),
  });
  return {
    title: '2. Contention with jitter',
    anchor:
      'Brooker, "Exponential Backoff And Jitter" (AWS, 2015): full and decorrelated jitter do the work in far fewer calls than no jitter',
    body: [
      'N clients start together, each making one optimistic write (read, 4–6 ms of work, commit only if the version is unchanged); conflicts are retried by `retry` with `backoff.exponential({ initialMs: 10, maxMs: 2_000 })` and the jitter of the row.',
      '',
      table,
    ].join('\n'),
    checks,
    charts: [{ file: 'jitter.svg', svg: chart }],
  };
}
