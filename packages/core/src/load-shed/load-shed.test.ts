import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isBreakwaterError, OverloadedError, TimeoutError } from '../errors/errors.js';
import { limits } from '../limits/index.js';
import type { Priority } from '../pipeline/context.js';
import { createFakeClock } from '../testing/fake-clock.js';
import type { Limit } from './limits.js';
import { loadShed } from './load-shed.js';

/** A call that holds its slot until released by hand. */
function held() {
  let finish: (() => void) | undefined;
  let fail: ((e: unknown) => void) | undefined;
  const fn = () =>
    new Promise<string>((resolve, reject) => {
      finish = () => resolve('done');
      fail = reject;
    });
  // A call that was shed never ran fn: finishing it does nothing.
  return { fn, finish: () => finish?.(), fail: (e: unknown) => fail?.(e) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('loadShed with a fixed limit', () => {
  it('admits up to the limit and sheds the rest with a jittered retryAfterMs', async () => {
    const policy = loadShed({ limit: limits.fixed(2), random: () => 0.5 });
    const a = held();
    const b = held();
    const first = policy.execute(a.fn, { priority: 'critical' });
    const second = policy.execute(b.fn, { priority: 'critical' });
    expect(policy.inflight).toBe(2);
    const error = await policy.execute(() => 'shed', { priority: 'critical' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect(isBreakwaterError(error) && error.code).toBe('BW_OVERLOADED');
    expect((error as OverloadedError).retryAfterMs).toBe(1_000); // 1 000 × (0.5 + 0.5)
    a.finish();
    b.finish();
    await Promise.all([first, second]);
    expect(policy.inflight).toBe(0);
  });

  it('keeps headroom for critical work: each priority fills only its share of the limit', async () => {
    const policy = loadShed({ limit: limits.fixed(10) });
    const holds = Array.from({ length: 12 }, () => held());
    const calls: Array<Promise<unknown>> = [];
    const admitted = (priority: Priority) => {
      const h = holds[calls.length]!;
      const before = policy.inflight;
      calls.push(policy.execute(h.fn, { priority }).catch((e: unknown) => e));
      return policy.inflight > before;
    };
    const sheddable = Array.from({ length: 6 }, () => admitted('sheddable'));
    expect(sheddable).toEqual([true, true, true, true, true, false]); // 50% of 10
    const normal = Array.from({ length: 4 }, () => admitted('default'));
    expect(normal).toEqual([true, true, true, true]); // up to 9
    expect(admitted('default')).toBe(false);
    expect(admitted('critical')).toBe(true); // the 10th slot is critical's
    for (const h of holds) h.finish();
    await Promise.all(calls);
  });

  it('serves the newest waiter first (LIFO), and times waiters out with OverloadedError', async () => {
    const clock = createFakeClock();
    const policy = loadShed({ limit: limits.fixed(1), maxQueue: 2, queueTimeoutMs: 100, clock });
    const holder = held();
    const order: string[] = [];
    const first = policy.execute(holder.fn);
    const older = policy.execute(() => order.push('older')).catch((e: unknown) => e);
    const newer = policy.execute(() => order.push('newer'));
    expect(policy.queued).toBe(2);
    await expect(policy.execute(() => 'full')).rejects.toBeInstanceOf(OverloadedError);
    holder.finish();
    await first;
    await newer;
    expect(order).toEqual(['newer', 'older']);
    await older;
    // A waiter that waits too long is shed.
    const h2 = held();
    const busy = policy.execute(h2.fn);
    const late = policy.execute(() => 'never').catch((e: unknown) => e);
    await clock.advance(100);
    expect(await late).toBeInstanceOf(OverloadedError);
    h2.finish();
    await busy;
    expect(policy.queued).toBe(0);
  });

  it('lets an aborted waiter leave the queue at once without taking a slot', async () => {
    const policy = loadShed({ limit: limits.fixed(1), maxQueue: 1 });
    const holder = held();
    const running = policy.execute(holder.fn);
    const controller = new AbortController();
    const waiting = policy.execute(() => 'never', { signal: controller.signal });
    controller.abort(new Error('left'));
    await expect(waiting).rejects.toThrow('left');
    expect(policy.queued).toBe(0);
    holder.finish();
    await running;
    expect(policy.inflight).toBe(0);
  });

  it('hands out slots outside execute with tryAcquire', () => {
    const policy = loadShed({ limit: limits.fixed(1) });
    const release = policy.tryAcquire('critical');
    expect(release).toBeTypeOf('function');
    expect(policy.tryAcquire()).toBeUndefined();
    release!();
    release!(); // twice is once
    expect(policy.inflight).toBe(0);
    expect(() => policy.tryAcquire('urgent' as never)).toThrow(/priority/);
  });
});

describe('adaptive limits', () => {
  it('aimd grows by one while in use and backs off on a drop or a slow call', () => {
    const limit = limits.aimd({ initial: 10, backoffRatio: 0.5, latencyThresholdMs: 100, windowSize: 1 });
    limit.update({ rttMs: 10, inflight: 5, dropped: false, now: 0 });
    expect(limit.current).toBe(11);
    limit.update({ rttMs: 10, inflight: 1, dropped: false, now: 0 }); // not limited: no change
    expect(limit.current).toBe(11);
    limit.update({ rttMs: 10, inflight: 6, dropped: true, now: 0 });
    expect(limit.current).toBe(5);
    limit.update({ rttMs: 500, inflight: 5, dropped: false, now: 0 });
    expect(limit.current).toBe(2);
  });

  it('gradient shrinks when latency rises over its long average and recovers when it falls', () => {
    const limit = limits.gradient({ initial: 50, min: 5, max: 100 });
    for (let i = 0; i < 50; i++) limit.update({ rttMs: 10, inflight: 50, dropped: false, now: i });
    const steady = limit.current;
    for (let i = 0; i < 20; i++) limit.update({ rttMs: 40, inflight: 50, dropped: false, now: i });
    expect(limit.current).toBeLessThan(steady);
    const low = limit.current;
    for (let i = 0; i < 200; i++)
      limit.update({ rttMs: 10, inflight: limit.current, dropped: false, now: i });
    expect(limit.current).toBeGreaterThan(low);
  });

  it('vegas grows while its estimated queue is short and shrinks when it is long', () => {
    const limit = limits.vegas({ initial: 20, alpha: 3, beta: 6, windowSize: 1 });
    limit.update({ rttMs: 10, inflight: 20, dropped: false, now: 0 }); // minRtt 10, queue 0
    expect(limit.current).toBeGreaterThan(20);
    const grown = limit.current;
    limit.update({ rttMs: 20, inflight: grown, dropped: false, now: 0 }); // queue ≈ half the limit
    expect(limit.current).toBeLessThan(grown);
  });

  it('feeds the limit from each call: a drop shrinks an aimd limit', async () => {
    const limit = limits.aimd({ initial: 4, backoffRatio: 0.5, windowSize: 1 });
    const policy = loadShed({ limit });
    await policy.execute(() => Promise.reject(new TimeoutError(1))).catch(() => {});
    expect(policy.limit).toBe(2);
  });

  it('moves once per window of calls, on their mean latency, most in flight and any drop', () => {
    const limit = limits.aimd({ initial: 10, backoffRatio: 0.5, latencyThresholdMs: 100, windowSize: 4 });
    const sample = (rttMs: number, inflight: number, dropped = false) =>
      limit.update({ rttMs, inflight, dropped, now: 0 });
    // One slow call among fast ones: the mean (70 ms) is under the threshold, and 6 in flight grows it.
    sample(10, 1);
    sample(10, 6);
    sample(250, 1);
    expect(limit.current).toBe(10);
    sample(10, 1);
    expect(limit.current).toBe(11);
    // A drop anywhere in the window counts once, when the window closes.
    sample(10, 1, true);
    sample(10, 1);
    sample(10, 1);
    expect(limit.current).toBe(11);
    sample(10, 1);
    expect(limit.current).toBe(5);
    // A nonsense latency is left out rather than averaged in.
    sample(Number.NaN, 9);
    sample(-5, 9);
    expect(limit.current).toBe(5);
  });

  it('vegas on per-call latencies that vary with the work collapses where a window of them holds up', () => {
    // Service times spread 2–20 ms with no queueing at all: per call, the minimum latency is far under
    // the typical one and Vegas reads a queue that is not there; the window's mean does not.
    const random = (() => {
      let a = 7;
      return () => {
        a = (a * 16_807) % 2_147_483_647;
        return (a - 1) / 2_147_483_646;
      };
    })();
    const perCall = limits.vegas({ initial: 20, windowSize: 1 });
    const windowed = limits.vegas({ initial: 20 });
    for (let i = 0; i < 2_000; i++) {
      const rttMs = 2 + 18 * random();
      perCall.update({ rttMs, inflight: perCall.current, dropped: false, now: i });
      windowed.update({ rttMs, inflight: windowed.current, dropped: false, now: i });
    }
    expect(perCall.current).toBeLessThan(10);
    expect(windowed.current).toBeGreaterThanOrEqual(10);
    expect(windowed.current).toBeGreaterThan(perCall.current);
  });

  it('validates limits, naming the option', () => {
    expect(() => limits.vegas({ windowSize: 0 })).toThrow(/limits.vegas: option "windowSize"/);
    expect(() => limits.fixed(0)).toThrow(/limits.fixed: option "n"/);
    expect(() => limits.aimd({ min: 10, max: 5 })).toThrow(/limits.aimd: option "min" must be <= max \(5\)/);
    expect(() => limits.aimd({ backoffRatio: 1.5 })).toThrow(/"backoffRatio"/);
    expect(() => limits.gradient({ initial: 0 })).toThrow(/"initial"/);
    expect(() => limits.vegas({ alpha: 7, beta: 6 })).toThrow(/"alpha" must be <= beta/);
    expect(() => loadShed({ limit: 5 as never })).toThrow(/loadShed: option "limit" must be a Limit/);
    expect(() => loadShed({ limit: limits.fixed(1), priorities: { critical: 2 } })).toThrow(
      /loadShed.priorities: option "critical" must be a number in \[0, 1\]/,
    );
    expect(() => loadShed({ limit: limits.fixed(1), priorities: { urgent: 1 } as never })).toThrow(
      /unknown option "urgent"/,
    );
  });
});

describe('loadShed with a broken limit', () => {
  it("keeps working when a user's limit throws or answers nonsense, and leaks no slot", async () => {
    let current: unknown = 2;
    const broken: Limit = {
      kind: 'broken',
      get current() {
        if (current instanceof Error) throw current;
        return current as number;
      },
      update() {
        throw new Error('update bug');
      },
    };
    const policy = loadShed({ limit: broken });
    await expect(policy.execute(() => 'ok')).resolves.toBe('ok');
    current = Number.NaN;
    await expect(policy.execute(() => 'still ok')).resolves.toBe('still ok'); // keeps the last good limit
    current = new Error('current bug');
    await expect(policy.execute(() => 'still ok')).resolves.toBe('still ok');
    expect(policy.inflight).toBe(0);
  });
});

describe('loadShed accounting (property)', () => {
  it('never holds fewer than 0 or more than the limit, under random starts, finishes, aborts and time', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('start' as const),
              priority: fc.constantFrom<Priority>('sheddable', 'default', 'critical'),
            }),
            fc.record({ op: fc.constant('finish' as const), which: fc.nat() }),
            fc.record({ op: fc.constant('abort' as const), which: fc.nat() }),
            fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 100 }) }),
          ),
          { maxLength: 60 },
        ),
        async (n, maxQueue, steps) => {
          const clock = createFakeClock();
          const policy = loadShed({ limit: limits.fixed(n), maxQueue, queueTimeoutMs: 150, clock });
          const live: Array<{ finish: () => void; abort: AbortController; done: boolean }> = [];
          let running = 0;
          for (const step of steps) {
            if (step.op === 'start') {
              const controller = new AbortController();
              const h = held();
              const entry = { finish: () => {}, abort: controller, done: false };
              live.push(entry);
              policy
                .execute(
                  () => {
                    running++;
                    entry.finish = h.finish;
                    return h.fn().finally(() => running--);
                  },
                  { priority: step.priority, signal: controller.signal },
                )
                .catch(() => {})
                .finally(() => {
                  entry.done = true;
                });
            } else if (step.op === 'finish') {
              const open = live.filter((e) => !e.done);
              open[step.which % Math.max(1, open.length)]?.finish();
            } else if (step.op === 'abort') {
              const open = live.filter((e) => !e.done);
              open[step.which % Math.max(1, open.length)]?.abort.abort();
            } else await clock.advance(step.ms);
            await tick();
            if (policy.inflight < 0 || policy.inflight > n) return false;
            if (policy.queued < 0 || policy.queued > maxQueue) return false;
            if (running > n) return false;
          }
          for (const e of live) e.finish();
          await tick();
          await clock.runAll();
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('loadShed event-loop trigger', () => {
  it('sheds all but critical work while the probe says the loop is overloaded, and recovers', async () => {
    const clock = createFakeClock();
    let reading = { delayMs: 0, utilization: 0.2 };
    const policy = loadShed({
      limit: limits.fixed(100),
      eventLoop: { maxDelayMs: 50, maxUtilization: 0.9, intervalMs: 500, probe: () => reading },
      clock,
    });
    const reasons: string[] = [];
    policy.onShed((e) => reasons.push(e.reason));
    try {
      await clock.advance(500);
      expect(policy.eventLoopOverloaded).toBe(false);
      reading = { delayMs: 120, utilization: 0.5 };
      await clock.advance(500);
      expect(policy.eventLoopOverloaded).toBe(true);
      await expect(policy.execute(() => 'x', { priority: 'sheddable' })).rejects.toBeInstanceOf(
        OverloadedError,
      );
      await expect(policy.execute(() => 'x')).rejects.toBeInstanceOf(OverloadedError);
      await expect(policy.execute(() => 'critical', { priority: 'critical' })).resolves.toBe('critical');
      expect(reasons).toEqual(['event-loop', 'event-loop']);
      reading = { delayMs: 0, utilization: 0.95 };
      await clock.advance(500);
      expect(policy.eventLoopOverloaded).toBe(true); // busy, though not late
      reading = { delayMs: 0, utilization: 0.1 };
      await clock.advance(500);
      await expect(policy.execute(() => 'default')).resolves.toBe('default');
    } finally {
      policy.dispose();
    }
    expect(clock.pending).toBe(0);
  });

  it('samples the real event loop by default on a timer that never keeps the process alive', () => {
    const policy = loadShed({ limit: limits.fixed(1), eventLoop: { maxDelayMs: 10_000 } });
    try {
      expect(policy.eventLoopOverloaded).toBe(false);
    } finally {
      policy.dispose();
    }
  });

  it('ignores a probe that throws, and validates the trigger', async () => {
    const clock = createFakeClock();
    const policy = loadShed({
      limit: limits.fixed(1),
      eventLoop: {
        maxDelayMs: 1,
        probe: () => {
          throw new Error('probe bug');
        },
      },
      clock,
    });
    await clock.advance(500);
    expect(policy.eventLoopOverloaded).toBe(false);
    policy.dispose();
    expect(() => loadShed({ limit: limits.fixed(1), eventLoop: {} })).toThrow(
      /needs maxDelayMs, maxUtilization or both/,
    );
    expect(() => loadShed({ limit: limits.fixed(1), eventLoop: { maxUtilization: 2 } })).toThrow(
      /loadShed.eventLoop: option "maxUtilization"/,
    );
  });
});
