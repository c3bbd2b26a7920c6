// Open-loop load: arrivals that do not wait for answers, as users' requests do not.

import type { Clock, Random } from '@breakwater/core';
import type { VirtualClock } from './clock.js';

export interface OpenLoopOptions {
  clock: Clock;
  random: Random;
  /** Arrivals per second, constant or as a function of the simulated time (ms since `startMs`). */
  ratePerSec: number | ((elapsedMs: number) => number);
  /** @default the clock's now */
  startMs?: number;
  durationMs: number;
  /** Poisson arrivals (exponential gaps) or evenly spaced ones. @default 'poisson' */
  arrivals?: 'poisson' | 'even';
  onArrival: (index: number, atMs: number) => void;
}

/** Schedules arrivals on the clock; resolves once the last one has been made. */
export function openLoop(options: OpenLoopOptions): Promise<number> {
  const { clock, random, durationMs, onArrival } = options;
  const start = options.startMs ?? clock.now();
  const end = start + durationMs;
  const rate =
    typeof options.ratePerSec === 'number' ? () => options.ratePerSec as number : options.ratePerSec;
  const poisson = (options.arrivals ?? 'poisson') === 'poisson';
  let index = 0;
  return new Promise((resolve) => {
    const schedule = (at: number): void => {
      const perSec = rate(at - start);
      const gap = perSec > 0 ? (poisson ? -Math.log(1 - random()) : 1) * (1_000 / perSec) : 10;
      const next = at + gap;
      if (next >= end) {
        clock.setTimeout(() => resolve(index), end - clock.now());
        return;
      }
      clock.setTimeout(() => {
        if (perSec > 0) onArrival(index++, next);
        schedule(next);
      }, next - clock.now());
    };
    schedule(start);
  });
}

export interface DriveOptions {
  /** Open-loop loads; a promise an `onArrival` returns is awaited before `drive` resolves. */
  loads: (Omit<OpenLoopOptions, 'clock' | 'onArrival'> & {
    onArrival: (index: number, atMs: number) => Promise<unknown> | undefined | void;
  })[];
  /** Runs the clock to here, then waits for every call the loads made to settle. */
  untilMs: number;
}

/** Runs loads on a virtual clock until `untilMs`, then waits for every call they started. */
export async function drive(clock: VirtualClock, options: DriveOptions): Promise<void> {
  const calls: Promise<unknown>[] = [];
  const loads = options.loads.map((load) =>
    openLoop({
      ...load,
      clock,
      onArrival: (index, at) => {
        const call = load.onArrival(index, at);
        if (call !== undefined) calls.push(call);
      },
    }),
  );
  await Promise.all([...loads, clock.runUntil(options.untilMs)]);
  await Promise.all(calls);
}
