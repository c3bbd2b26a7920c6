import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../testing/fake-clock.js';
import { memoryLocks } from './locks.js';

describe('memoryLocks', () => {
  it('grants one holder at a time, with fencing tokens that only grow', async () => {
    const locks = memoryLocks({ clock: createFakeClock() });
    const a = await locks.acquire('k', { leaseMs: 1_000 });
    expect(a?.token).toBe(1);
    expect(await locks.acquire('k', { leaseMs: 1_000 })).toBeUndefined();
    expect(await locks.acquire('other', { leaseMs: 1_000 })).toMatchObject({ token: 2 });
    expect(await a!.release()).toBe(true);
    expect(await a!.release()).toBe(false);
    expect((await locks.acquire('k', { leaseMs: 1_000 }))?.token).toBe(3);
  });

  it('wakes the first waiter when the lock is released, and times waiters out', async () => {
    const clock = createFakeClock();
    const locks = memoryLocks({ clock });
    const a = await locks.acquire('k', { leaseMs: 10_000 });
    const b = locks.acquire('k', { leaseMs: 1_000, waitMs: 500 });
    const c = locks.acquire('k', { leaseMs: 1_000, waitMs: 100 });
    await clock.advance(100);
    expect(await c).toBeUndefined();
    await a!.release();
    expect((await b)?.token).toBe(2);
  });

  it('loses a lease that runs out: the next owner gets it, the old one can neither extend nor release it', async () => {
    const clock = createFakeClock();
    const locks = memoryLocks({ clock });
    const a = await locks.acquire('k', { leaseMs: 100 });
    const waiting = locks.acquire('k', { leaseMs: 100, waitMs: 1_000 });
    expect(await a!.extend(200)).toBe(true);
    await clock.advance(199);
    expect(await locks.acquire('k', { leaseMs: 100 })).toBeUndefined();
    await clock.advance(1);
    const b = await waiting;
    expect(b?.token).toBe(2);
    expect(await a!.extend(100)).toBe(false);
    expect(await a!.release()).toBe(false);
    expect(await b!.release()).toBe(true);
  });

  it('stops waiting when the signal aborts, and validates its options', async () => {
    const clock = createFakeClock();
    const locks = memoryLocks({ clock });
    await locks.acquire('k', { leaseMs: 1_000 });
    const controller = new AbortController();
    const waiting = locks.acquire('k', { leaseMs: 1_000, waitMs: 10_000, signal: controller.signal });
    controller.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(() => locks.acquire('k', { leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => locks.acquire('k', { leaseMs: 1, waitMs: -1 })).toThrow(/waitMs/);
  });
});
