import { describe, expect, it } from 'vitest';
import { breakers } from '../circuit-breaker/breakers.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { CircuitOpenError } from '../errors/errors.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { type BreakerStateStore, memoryBreakerStore } from './breaker-state-store.js';

const fail = () => Promise.reject(new Error('down'));
const settle = () => new Promise((resolve) => setImmediate(resolve));

function cluster(n: number, store: BreakerStateStore, clock = createFakeClock()) {
  const instances = Array.from({ length: n }, () =>
    circuitBreaker({
      name: 'payments',
      breaker: breakers.consecutive(2),
      halfOpenAfterMs: 1_000,
      store,
      clock,
    }),
  );
  return { instances, clock };
}

describe('circuit breakers sharing a memory store', () => {
  it('share an opening: one instance counts the failures, every instance refuses calls', async () => {
    const store = memoryBreakerStore();
    const { instances } = cluster(3, store);
    const [a, b, c] = instances;
    await a!.execute(fail).catch(() => {});
    await b!.execute(fail).catch(() => {}); // counts are not shared: nobody has two in a row
    expect(instances.map((i) => i.state)).toEqual(['closed', 'closed', 'closed']);
    await a!.execute(fail).catch(() => {});
    await settle();
    expect(instances.map((i) => i.state)).toEqual(['open', 'open', 'open']);
    await expect(c!.execute(() => 'never')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('let one instance at a time, cluster-wide, run the half-open trial, and share its result', async () => {
    const store = memoryBreakerStore();
    const { instances, clock } = cluster(3, store);
    const [a, b, c] = instances;
    await a!.execute(fail).catch(() => {});
    await a!.execute(fail).catch(() => {});
    await settle();
    await clock.advance(1_000);
    let finish!: (v: string) => void;
    const trial = b!.execute(() => new Promise<string>((resolve) => (finish = resolve)));
    await settle();
    // a and c find the trial taken by b.
    const others = await Promise.all(
      [a!, c!].map((i) => i.execute(() => 'not a trial').catch((e: unknown) => e)),
    );
    expect(others.every((e) => e instanceof CircuitOpenError)).toBe(true);
    finish('trial ok');
    await expect(trial).resolves.toBe('trial ok');
    await settle();
    expect(instances.map((i) => i.state)).toEqual(['closed', 'closed', 'closed']);
    await expect(c!.execute(() => 'through')).resolves.toBe('through');
  });

  it("never make a closed circuit's call wait on the store", async () => {
    const never = new Promise<never>(() => {});
    const stuck: BreakerStateStore = {
      get: () => never,
      set: () => never,
      subscribe: () => () => {},
      acquireTrial: () => never,
      releaseTrial: () => never,
    };
    const cb = circuitBreaker({ name: 'x', store: stuck });
    await expect(cb.execute(() => 'fast')).resolves.toBe('fast');
  });

  it('keep working locally when the store fails, and say so with onStoreError', async () => {
    const clock = createFakeClock();
    const broken: BreakerStateStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => Promise.reject(new Error('store down')),
      subscribe: () => {
        throw new Error('store down');
      },
      acquireTrial: () => Promise.reject(new Error('store down')),
      releaseTrial: () => Promise.reject(new Error('store down')),
    };
    const errors: string[] = [];
    const cb = circuitBreaker({
      name: 'x',
      breaker: breakers.consecutive(1),
      halfOpenAfterMs: 100,
      store: broken,
      clock,
    });
    cb.onStoreError((e) => errors.push(e.operation));
    await settle();
    await cb.execute(fail).catch(() => {});
    expect(cb.state).toBe('open');
    await clock.advance(100);
    await expect(cb.execute(() => 'local trial')).resolves.toBe('local trial');
    await settle();
    expect(cb.state).toBe('closed');
    expect(errors).toEqual(expect.arrayContaining(['subscribe', 'get', 'set', 'acquireTrial']));
  });

  it('refuse a malformed record from the store and keep their own state', async () => {
    const store = memoryBreakerStore();
    const cb = circuitBreaker({ name: 'x', store });
    const errors: unknown[] = [];
    cb.onStoreError((e) => errors.push(e.error));
    await settle(); // the breaker subscribes once it is made
    await store.set('x', { state: 'ajar', openUntil: 0, openings: 0, version: 99 } as never);
    expect(cb.state).toBe('closed');
    expect(String(errors[0])).toMatch(/malformed record/);
  });

  it('let an instance that starts later pick up an open circuit', async () => {
    const store = memoryBreakerStore();
    const { instances, clock } = cluster(1, store);
    await instances[0]!.execute(fail).catch(() => {});
    await instances[0]!.execute(fail).catch(() => {});
    await settle();
    const late = circuitBreaker({ name: 'payments', store, clock });
    await settle();
    expect(late.state).toBe('open');
    late.dispose();
  });

  it('let a trial lease expire when its holder is gone', async () => {
    const clock = createFakeClock();
    const store = memoryBreakerStore({ clock });
    expect(await store.acquireTrial('x', 'a', 1_000)).toBe(true);
    expect(await store.acquireTrial('x', 'b', 1_000)).toBe(false);
    await clock.advance(1_000);
    expect(await store.acquireTrial('x', 'b', 1_000)).toBe(true);
    await store.releaseTrial('x', 'a'); // a stale owner cannot free b's lease
    expect(await store.acquireTrial('x', 'c', 1_000)).toBe(false);
  });
});
