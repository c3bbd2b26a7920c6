import { describe, expect, it } from 'vitest';
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
