import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BulkheadFullError } from '../errors/errors.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { bulkhead } from './bulkhead.js';

/** A call that runs until the test releases it. */
function gate() {
  const releases: Array<() => void> = [];
  const started: number[] = [];
  let n = 0;
  const fn = () => {
    const id = ++n;
    started.push(id);
    return new Promise<number>((resolve) => releases.push(() => resolve(id)));
  };
  return { fn, started, release: () => releases.shift()?.() };
}

describe('bulkhead options', () => {
  it('rejects bad options, naming them', () => {
    expect(() => bulkhead({ maxConcurrent: 0 })).toThrow(
      new RangeError('bulkhead: option "maxConcurrent" must be an integer >= 1, got 0'),
    );
    expect(() => bulkhead({ maxQueue: -1 })).toThrow(
      /"maxQueue" must be an integer >= 0 \(or Infinity\), got -1/,
    );
    expect(() => bulkhead({ queueTimeoutMs: 0 })).toThrow(/"queueTimeoutMs" must be a positive number of ms/);
  });
});

describe('bulkhead', () => {
  it('runs at most maxConcurrent at once and rejects beyond the queue', async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const g = gate();
    const a = policy.execute(g.fn);
    const b = policy.execute(g.fn);
    const c = policy.execute(g.fn);
    const d = policy.execute(g.fn).catch((e: unknown) => e);
    expect(g.started).toEqual([1, 2]);
    expect(policy.executing).toBe(2);
    expect(policy.queued).toBe(1);
    const error = await d;
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect((error as BulkheadFullError).code).toBe('BW_BULKHEAD_FULL');
    g.release();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    expect(g.started).toEqual([1, 2, 3]);
    g.release();
    g.release();
    await Promise.all([b, c]);
    expect(policy.executing).toBe(0);
  });

  it('rejects at once by default (maxQueue 0)', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    const g = gate();
    const a = policy.execute(g.fn);
    await expect(policy.execute(g.fn)).rejects.toBeInstanceOf(BulkheadFullError);
    g.release();
    await a;
  });

  it('hands slots to waiters in arrival order, not to newcomers', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const order: string[] = [];
    const g = gate();
    const first = policy.execute(g.fn);
    const waiters = ['w1', 'w2'].map((id) => policy.execute(() => order.push(id)));
    g.release();
    const late = policy.execute(() => order.push('late'));
    await Promise.all([first, ...waiters, late]);
    expect(order).toEqual(['w1', 'w2', 'late']);
  });

  it('removes an aborted waiter from the queue at once; it never takes a slot', async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 2 });
    const g = gate();
    const running = policy.execute(g.fn);
    const controller = new AbortController();
    let abortedRan = false;
    const aborted = policy.execute(
      () => {
        abortedRan = true;
      },
      { signal: controller.signal },
    );
    const next = policy.execute(() => 'next');
    expect(policy.queued).toBe(2);
    controller.abort('gone');
    await expect(aborted).rejects.toBe('gone');
    expect(policy.queued).toBe(1);
    g.release();
    await expect(next).resolves.toBe('next');
    await running;
    expect(abortedRan).toBe(false);
    expect(policy.executing).toBe(0);
  });

  it('rejects a waiter with BulkheadFullError after queueTimeoutMs', async () => {
    const clock = createFakeClock();
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 50, clock });
    const rejects: string[] = [];
    policy.onReject((e) => rejects.push(e.reason));
    const g = gate();
    const running = policy.execute(g.fn);
    const waiting = policy.execute(() => 'never').catch((e: unknown) => e);
    await clock.advance(49);
    expect(policy.queued).toBe(1);
    await clock.advance(1);
    expect(await waiting).toBeInstanceOf(BulkheadFullError);
    expect(policy.queued).toBe(0);
    expect(rejects).toEqual(['queue-timeout']);
    g.release();
    await running;
    expect(clock.pending).toBe(0);
  });

  it('releases the slot when fn throws', async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(policy.execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await expect(policy.execute(() => 'free')).resolves.toBe('free');
  });
});

describe('bulkhead under random schedules (property)', () => {
  type Op =
    | { kind: 'start' }
    | { kind: 'finish'; pick: number }
    | { kind: 'abort'; pick: number }
    | { kind: 'tick'; ms: number };
  const op = fc.oneof(
    fc.constant<Op>({ kind: 'start' }),
    fc.nat(20).map<Op>((pick) => ({ kind: 'finish', pick })),
    fc.nat(20).map<Op>((pick) => ({ kind: 'abort', pick })),
    fc.integer({ min: 1, max: 40 }).map<Op>((ms) => ({ kind: 'tick', ms })),
  );

  it('never runs more than maxConcurrent, never queues more than maxQueue, starts waiters in order, and never starts an aborted one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const clock = createFakeClock();
        const maxConcurrent = 2;
        const maxQueue = 3;
        const pool = bulkhead({ maxConcurrent, maxQueue, queueTimeoutMs: 50, clock });
        interface Call {
          id: number;
          controller: AbortController;
          started: boolean;
          finish?: () => void;
          settled: boolean;
        }
        const calls: Call[] = [];
        const startOrder: number[] = [];
        const promises: Promise<unknown>[] = [];
        let running = 0;
        let maxRunning = 0;
        for (const o of ops) {
          if (o.kind === 'start') {
            const call: Call = {
              id: calls.length,
              controller: new AbortController(),
              started: false,
              settled: false,
            };
            calls.push(call);
            promises.push(
              pool
                .execute(
                  () =>
                    new Promise<void>((resolve) => {
                      call.started = true;
                      startOrder.push(call.id);
                      running++;
                      maxRunning = Math.max(maxRunning, running);
                      call.finish = () => {
                        running--;
                        resolve();
                      };
                    }),
                  { signal: call.controller.signal },
                )
                .catch(() => {})
                .finally(() => {
                  call.settled = true;
                }),
            );
          } else if (o.kind === 'finish') {
            const open = calls.filter((c) => c.finish !== undefined);
            const call = open[o.pick % Math.max(1, open.length)];
            if (call?.finish) {
              const finish = call.finish;
              call.finish = undefined;
              finish();
            }
          } else if (o.kind === 'abort') {
            const waiting = calls.filter((c) => !c.started && !c.settled);
            const call = waiting[o.pick % Math.max(1, waiting.length)];
            call?.controller.abort('gone');
          } else {
            await clock.advance(o.ms);
          }
          await clock.advance(0);
          if (pool.executing > maxConcurrent || pool.queued > maxQueue) return false;
          if (pool.executing !== running) return false;
        }
        // Let everything drain: finish whatever runs until nothing is left.
        for (let guard = 0; guard < 100 && calls.some((c) => !c.settled); guard++) {
          for (const c of calls) {
            if (c.finish) {
              const finish = c.finish;
              c.finish = undefined;
              finish();
            }
          }
          await clock.advance(50);
        }
        await Promise.all(promises);
        const sorted = [...startOrder].sort((a, b) => a - b);
        const aborted = calls.filter((c) => c.controller.signal.aborted && !c.started);
        return (
          maxRunning <= maxConcurrent &&
          startOrder.every((id, i) => id === sorted[i]) && // slots go to callers in arrival order
          aborted.every((c) => !startOrder.includes(c.id)) &&
          pool.executing === 0 &&
          pool.queued === 0
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe('bulkhead hardening', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a queueTimeoutMs of the wrong type with a TypeError', () => {
    expect(() => bulkhead({ queueTimeoutMs: '5' as never })).toThrow(TypeError);
    expect(() => bulkhead({ queueTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => bulkhead({ maxQueue: null as never })).toThrow(/"maxQueue"/);
  });

  it('waits out a queueTimeoutMs of 2^31 ms instead of rejecting after ~4 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 2 ** 31 });
    let finish!: () => void;
    const holder = pool.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    let settled = false;
    const waiter = pool
      .execute(() => 'got a slot')
      .catch((e: unknown) => e)
      .finally(() => {
        settled = true;
      });
    await vi.advanceTimersByTimeAsync(2 ** 31 - 1);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await waiter).toBeInstanceOf(BulkheadFullError);
    finish();
    await holder;
  });

  it('keeps the process alive while a call waits for a slot, and lets go once it has one', async () => {
    const refedTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 60_000 });
    const base = refedTimers();
    let finish!: () => void;
    const holder = pool.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    const waiter = pool.execute(() => 'slot');
    expect(refedTimers()).toBe(base + 1);
    finish();
    await holder;
    await expect(waiter).resolves.toBe('slot');
    expect(refedTimers()).toBe(base);
  });
});
