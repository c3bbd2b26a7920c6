import { compose, retry, timeout } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { sleep, VirtualClock } from './clock.js';
import { Downstream, DownstreamError } from './downstream.js';
import { openLoop } from './load.js';
import { dist, seeded } from './random.js';
import { quantile, Timeline } from './stats.js';

describe('VirtualClock', () => {
  it('runs timers in time order, ties in the order set, and settles promises between them', async () => {
    const clock = new VirtualClock(100);
    const log: string[] = [];
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      log.push(`a@${clock.now()}`);
      void Promise.resolve().then(() => clock.setTimeout(() => log.push(`c@${clock.now()}`), 0));
    }, 10);
    clock.setTimeout(() => log.push(`a2@${clock.now()}`), 10);
    const never = clock.setTimeout(() => log.push('cleared'), 5);
    clock.clearTimeout(never);
    clock.setTimeout(() => log.push('infinity'), Number.POSITIVE_INFINITY);
    await clock.runUntil(1_000);
    expect(log).toEqual(['a@110', 'a2@110', 'c@110', 'b@120']);
    expect(clock.now()).toBe(1_000);
    expect(clock.pending).toBe(0);
  });

  it('drives real policies: a timeout and its retries happen at virtual times', async () => {
    const clock = new VirtualClock();
    const policy = compose(
      retry({ maxAttempts: 3, backoff: { delayMs: () => 50 }, clock }),
      timeout(100, { clock }),
    );
    const starts: number[] = [];
    const call = policy.execute(async (ctx) => {
      starts.push(clock.now());
      await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    });
    const settled = call.catch((error: unknown) => error);
    await clock.runUntil(10_000);
    expect(starts).toEqual([0, 150, 300]);
    expect(await settled).toMatchObject({ code: 'BW_TIMEOUT' });
  });
});

describe('seeded', () => {
  it('repeats with a seed and stays in [0, 1)', () => {
    const a = seeded(5);
    const b = seeded(5);
    const xs = Array.from({ length: 10_000 }, a);
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, b));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.02);
  });

  it('draws a log-normal with the median asked for', () => {
    const random = seeded(1);
    const draws = Array.from({ length: 20_000 }, () => dist.lognormal(10, 0.5)(random));
    expect(quantile(draws, 0.5)).toBeGreaterThan(9.5);
    expect(quantile(draws, 0.5)).toBeLessThan(10.5);
    // p99 of a log-normal is median × e^(2.326 σ) ≈ 32 ms for σ = 0.5
    expect(quantile(draws, 0.99)).toBeGreaterThan(29);
    expect(quantile(draws, 0.99)).toBeLessThan(35);
  });
});

describe('Downstream', () => {
  it('serves with its workers, queues FIFO, and refuses past its queue', async () => {
    const clock = new VirtualClock();
    const server = new Downstream({
      clock,
      random: seeded(1),
      workers: 2,
      maxQueue: 1,
      service: dist.constant(10),
    });
    const done: [number, number][] = [];
    const calls = [0, 1, 2, 3].map((i) =>
      server.call().then(
        () => void done.push([i, clock.now()]),
        (error: unknown) => error,
      ),
    );
    await clock.runUntil(100);
    expect(done).toEqual([
      [0, 10],
      [1, 10],
      [2, 20],
    ]);
    expect(await calls[3]).toBeInstanceOf(DownstreamError);
    expect(server.rejected).toBe(1);
    expect(server.served).toBe(3);
  });

  it("drops aborted requests, or serves them anyway with onAbort: 'ignore'", async () => {
    for (const onAbort of ['drop', 'ignore'] as const) {
      const clock = new VirtualClock();
      const server = new Downstream({
        clock,
        random: seeded(1),
        workers: 1,
        service: dist.constant(10),
        onAbort,
      });
      const inService = new AbortController();
      const queued = new AbortController();
      const a = server.call(inService.signal).catch((e: unknown) => e);
      const b = server.call(queued.signal).catch((e: unknown) => e);
      clock.setTimeout(() => {
        inService.abort(new Error('gone'));
        queued.abort(new Error('gone'));
      }, 5);
      await clock.runUntil(100);
      await Promise.all([a, b]);
      expect(server.served).toBe(onAbort === 'drop' ? 0 : 2);
      expect(server.dropped).toBe(onAbort === 'drop' ? 2 : 0);
    }
  });

  it('slows down when its workers are cut, and faults at its fault rate', async () => {
    const clock = new VirtualClock();
    const server = new Downstream({
      clock,
      random: seeded(3),
      workers: 4,
      service: dist.constant(10),
      faultRate: 0.25,
    });
    server.setWorkers(1);
    const outcomes = await Promise.all([
      ...Array.from({ length: 400 }, () =>
        server.call().then(
          () => 'ok',
          () => 'fault',
        ),
      ),
      clock.runUntil(4_000).then(() => 'clock'),
    ]);
    expect(clock.now()).toBe(4_000);
    expect(server.served).toBe(400); // 400 × 10 ms on one worker
    const faults = outcomes.filter((o) => o === 'fault').length;
    expect(faults).toBe(server.faults);
    expect(faults).toBeGreaterThan(70);
    expect(faults).toBeLessThan(130);
  });
});

describe('openLoop', () => {
  it('makes Poisson arrivals at the rate asked for, within the duration', async () => {
    const clock = new VirtualClock();
    const times: number[] = [];
    const made = openLoop({
      clock,
      random: seeded(9),
      ratePerSec: 200,
      durationMs: 10_000,
      onArrival: (_, at) => void times.push(at),
    });
    await clock.runUntil(11_000);
    expect(await made).toBe(times.length);
    expect(times.length).toBeGreaterThan(1_900);
    expect(times.length).toBeLessThan(2_100);
    expect(Math.max(...times)).toBeLessThan(10_000);
    const timeline = new Timeline(1_000);
    for (const t of times) timeline.add('arrivals', t);
    expect(timeline.rates('arrivals', 10).every((r) => r > 150 && r < 250)).toBe(true);
  });

  it('follows a rate that changes with time', async () => {
    const clock = new VirtualClock();
    let early = 0;
    let late = 0;
    void openLoop({
      clock,
      random: seeded(2),
      ratePerSec: (t) => (t < 1_000 ? 100 : 1_000),
      durationMs: 2_000,
      arrivals: 'even',
      onArrival: (_, at) => {
        if (at < 1_000) early++;
        else late++;
      },
    });
    await clock.runUntil(3_000);
    expect(early).toBeGreaterThanOrEqual(99);
    expect(early).toBeLessThanOrEqual(101);
    expect(late).toBeGreaterThan(990);
    expect(late).toBeLessThanOrEqual(1_001);
  });
});

describe('sleep', () => {
  it('waits on the clock it is given', async () => {
    const clock = new VirtualClock();
    let woke = -1;
    void sleep(clock, 42).then(() => {
      woke = clock.now();
    });
    await clock.runUntil(100);
    expect(woke).toBe(42);
  });
});
