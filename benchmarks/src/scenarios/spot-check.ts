// A short real-time spot check of scenarios 1 and 6: the same policies on the system clock against a
// real node:http server on 127.0.0.1, called with fetch. Figures carry real timer and socket noise;
// they are here to show the simulation's conclusions hold outside it, not to replace its numbers.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hedge, isBreakwaterError, limits, loadShed, type Policy, systemClock } from '@breakwater/core';
import { Downstream, dist, markdownTable, openLoop, quantile, seeded } from '../sim/index.js';
import { ms, pct } from './types.js';

type Handler = (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => void;

/** A server on 127.0.0.1 port 0 whose handlers get a signal that aborts when the client goes away. */
async function serve(handler: Handler) {
  const server = createServer((req, res) => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client went away'));
    });
    handler(req, res, controller.signal);
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Waits `delayMs` unless `signal` aborts first. */
const work = (delayMs: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, delayMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

async function get(url: string, signal: AbortSignal): Promise<Response> {
  const res = await fetch(url, { signal });
  await res.arrayBuffer();
  if (res.status !== 200) throw Object.assign(new Error(`status ${res.status}`), { status: res.status });
  return res;
}

async function tailSpot(smoke: boolean): Promise<string> {
  const random = seeded(7);
  const leaf = dist.mixture(dist.lognormal(8, 0.35), 0.005, dist.uniform(1_000, 2_000));
  let requests = 0;
  const server = await serve((_req, res, signal) => {
    requests++;
    work(leaf(random), signal).then(
      () => res.end('ok'),
      () => res.destroy(),
    );
  });
  const calls = smoke ? 100 : 2_000;
  const ratePerSec = 250;
  const rows: string[][] = [];
  for (const [label, policy] of [
    ['no hedging', undefined],
    ['hedge at the observed p95', hedge({ delay: { percentile: 0.95, initialMs: 20, minSamples: 100 } })],
  ] as [string, Policy | undefined][]) {
    requests = 0;
    const latencies: number[] = [];
    const pending: Promise<unknown>[] = [];
    await openLoop({
      clock: systemClock,
      random,
      ratePerSec,
      durationMs: (calls / ratePerSec) * 1_000,
      onArrival: () => {
        const start = performance.now();
        const call =
          policy === undefined
            ? get(server.url, AbortSignal.timeout(5_000))
            : policy.execute((ctx) => get(server.url, ctx.signal));
        pending.push(call.then(() => latencies.push(performance.now() - start)).catch(() => undefined));
      },
    });
    await Promise.all(pending);
    rows.push([
      label,
      String(latencies.length),
      ms(quantile(latencies, 0.5)),
      ms(quantile(latencies, 0.99)),
      ms(quantile(latencies, 0.999)),
      pct(requests / latencies.length - 1),
    ]);
  }
  await server.close();
  return markdownTable(['scenario 1, real time', 'calls', 'p50', 'p99', 'p99.9', 'extra requests'], rows);
}

async function overloadSpot(smoke: boolean): Promise<string> {
  const random = seeded(11);
  const WORKERS = 4;
  const service = dist.lognormal(20, 0.5);
  const capacityPerSec = WORKERS / ((20 * Math.exp(0.125)) / 1_000);
  const rows: string[][] = [];
  const durationMs = smoke ? 500 : 4_000;
  for (const [label, factor, shedding] of [
    ['unloaded (10%), no shedding', 0.1, false],
    ['2× capacity, no shedding', 2, false],
    ['2× capacity, loadShed(gradient)', 2, true],
  ] as [string, number, boolean][]) {
    // Workers: the simulated downstream on real timers (a request whose client left is dropped).
    const downstream = new Downstream({ clock: systemClock, random, workers: WORKERS, service });
    const runJob = (signal: AbortSignal) => downstream.call(signal);
    const shed = shedding
      ? loadShed({
          limit: limits.gradient({ initial: WORKERS, longWindow: 2_000 }),
          maxQueue: WORKERS * 5,
          queueTimeoutMs: 50,
        })
      : undefined;
    const server = await serve((_req, res, signal) => {
      const job = shed === undefined ? runJob(signal) : shed.execute(() => runJob(signal), { signal });
      job.then(
        () => res.end('ok'),
        (error: unknown) => {
          if (isBreakwaterError(error) && error.code === 'BW_OVERLOADED') {
            res.writeHead(503, { 'retry-after': '1' }).end();
          } else res.destroy();
        },
      );
    });
    const latencies: number[] = [];
    let shedCount = 0;
    let calls = 0;
    const pending: Promise<unknown>[] = [];
    await openLoop({
      clock: systemClock,
      random,
      ratePerSec: factor * capacityPerSec,
      durationMs,
      onArrival: () => {
        calls++;
        const start = performance.now();
        pending.push(
          get(server.url, AbortSignal.timeout(1_000)).then(
            () => latencies.push(performance.now() - start),
            (error: { status?: number }) => {
              if (error.status === 503) shedCount++;
            },
          ),
        );
      },
    });
    await Promise.all(pending);
    await server.close();
    rows.push([
      label,
      String(calls),
      pct(latencies.length / (durationMs / 1_000) / capacityPerSec),
      ms(quantile(latencies, 0.99)),
      pct(shedCount / calls),
    ]);
  }
  return markdownTable(
    ['scenario 6, real time', 'calls', 'goodput (of capacity)', 'p99 of answers', 'shed (503)'],
    rows,
  );
}

export async function spotCheck({ smoke }: { smoke: boolean }): Promise<string> {
  process.stdout.write('running the real-time spot checks…');
  const t0 = performance.now();
  const tail = await tailSpot(smoke);
  const overload = await overloadSpot(smoke);
  process.stdout.write(` ${((performance.now() - t0) / 1_000).toFixed(1)} s\n`);
  return [
    '## Real-time spot check (node:http on 127.0.0.1, fetch, the system clock)',
    '',
    'Scenario 1 with the same leaf distribution served by a real server (an aborted hedge closes its socket and the server stops the work), and scenario 6 with 4 workers (log-normal service, median 20 ms). Wall-clock figures, so timer and socket noise included.',
    '',
    tail,
    '',
    overload,
  ].join('\n');
}
