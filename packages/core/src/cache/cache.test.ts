import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import type { PolicyContext } from '../pipeline/context.js';
import { retry } from '../retry/retry.js';
import { type CacheEntry, type CacheStore, memoryCacheStore } from '../stores/cache-store.js';
import { memoryLocks } from '../stores/locks.js';
import { createFakeClock, type FakeClock } from '../testing/fake-clock.js';
import { cache } from './cache.js';

/** A loader whose calls the test controls: each call waits until `resolve` or `reject`. */
function deferredLoader() {
  const calls: { ctx: PolicyContext; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  const fn = (ctx: PolicyContext) =>
    new Promise((resolve, reject) => {
      calls.push({ ctx, resolve, reject });
    });
  return { fn, calls };
}

const setup = (
  extra: Partial<Parameters<typeof cache>[0]> = {},
  clock: FakeClock = createFakeClock({ now: 1_000 }),
) => {
  const store = memoryCacheStore({ clock });
  const policy = cache({ store, ttlMs: 1_000, clock, ...extra });
  return { clock, store, policy };
};

describe('cache', () => {
  it('loads on a miss, then answers from the entry until it expires', async () => {
    const { clock, policy } = setup();
    const events: string[] = [];
    policy.onMiss(({ key }) => events.push(`miss ${key}`));
    policy.onHit(({ key }) => events.push(`hit ${key}`));
    policy.onLoad(({ key, background }) => events.push(`load ${key} ${background}`));
    let n = 0;
    const fn = async () => ++n;
    expect(await policy.execute(fn, { key: 'a' })).toBe(1);
    expect(await policy.execute(fn, { key: 'a' })).toBe(1);
    await clock.advance(999);
    expect(await policy.execute(fn, { key: 'a' })).toBe(1);
    await clock.advance(1);
    expect(await policy.execute(fn, { key: 'a' })).toBe(2);
    expect(events).toEqual(['miss a', 'load a false', 'hit a', 'hit a', 'miss a', 'load a false']);
  });

  it('runs a call without a key as it is', async () => {
    const { policy } = setup();
    let n = 0;
    await policy.execute(async () => ++n);
    await policy.execute(async () => ++n);
    expect(n).toBe(2);
  });

  it('coalesces concurrent misses into one load', async () => {
    const { clock, policy } = setup();
    const loader = deferredLoader();
    let coalesced = 0;
    policy.onCoalesce(() => coalesced++);
    const calls = Array.from({ length: 100 }, () => policy.execute(loader.fn, { key: 'k' }));
    await clock.advance(0);
    expect(loader.calls).toHaveLength(1);
    expect(policy.loading).toBe(1);
    loader.calls[0]!.resolve('v');
    expect(await Promise.all(calls)).toEqual(Array(100).fill('v'));
    expect(coalesced).toBe(99);
    expect(policy.loading).toBe(0);
  });

  it('lets a caller give up without cancelling the load for the others', async () => {
    const { clock, policy } = setup();
    const loader = deferredLoader();
    const quitter = new AbortController();
    const a = policy.execute(loader.fn, { key: 'k', signal: quitter.signal });
    const b = policy.execute(loader.fn, { key: 'k' });
    await clock.advance(0);
    quitter.abort(new Error('caller left'));
    await expect(a).rejects.toThrow('caller left');
    expect(loader.calls[0]!.ctx.signal.aborted).toBe(false);
    loader.calls[0]!.resolve('v');
    expect(await b).toBe('v');
    expect(await policy.get('k')).toBe('v');
  });

  it('aborts a load after loadTimeoutMs and stores nothing', async () => {
    const { clock, policy } = setup({ loadTimeoutMs: 100 });
    const loader = deferredLoader();
    const call = policy.execute(loader.fn, { key: 'k' });
    const settled = call.catch((e: unknown) => e);
    await clock.advance(100);
    const error = await settled;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(loader.calls[0]!.ctx.signal.aborted).toBe(true);
    expect(loader.calls[0]!.ctx.signal.reason).toBe(error);
    loader.calls[0]!.resolve('late');
    await clock.advance(0);
    expect(await policy.get('k')).toBeUndefined();
  });

  it('serves a stale entry at once while one background load refreshes it', async () => {
    const { clock, policy } = setup({ staleWhileRevalidateMs: 500 });
    let n = 0;
    const loader = deferredLoader();
    await policy.execute(async () => `v${++n}`, { key: 'k' });
    await clock.advance(1_000);
    const stale: string[] = [];
    policy.onStale(({ reason }) => stale.push(reason));
    // Many readers of the stale entry: each answered now, one refresh between them.
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => policy.execute(loader.fn, { key: 'k' })),
    );
    expect(answers).toEqual(Array(10).fill('v1'));
    expect(loader.calls).toHaveLength(1);
    expect(stale).toEqual(Array(10).fill('revalidating'));
    loader.calls[0]!.resolve('v2');
    await clock.advance(0);
    expect(await policy.execute(loader.fn, { key: 'k' })).toBe('v2');
    // Past the stale window, a reader waits for a load again.
    await clock.advance(1_500);
    const waiting = policy.execute(loader.fn, { key: 'k' });
    await clock.advance(0);
    expect(loader.calls).toHaveLength(2);
    loader.calls[1]!.resolve('v3');
    expect(await waiting).toBe('v3');
  });

  it('serves the stale entry when a load fails within staleIfErrorMs, and the error after it', async () => {
    const { clock, policy } = setup({ staleIfErrorMs: 500 });
    await policy.execute(async () => 'old', { key: 'k' });
    await clock.advance(1_200);
    const reasons: string[] = [];
    policy.onStale(({ reason }) => reasons.push(reason));
    const failing = async () => {
      throw new Error('origin down');
    };
    expect(await policy.execute(failing, { key: 'k' })).toBe('old');
    expect(reasons).toEqual(['load-failed']);
    await clock.advance(300);
    await expect(policy.execute(failing, { key: 'k' })).rejects.toThrow('origin down');
  });

  it('spreads TTLs by jitter', async () => {
    const clock = createFakeClock();
    const store = memoryCacheStore({ clock });
    const draws = [0, 0.5, 0.999];
    const policy = cache({ store, ttlMs: 1_000, jitter: 0.2, clock, random: () => draws.shift() ?? 0.5 });
    for (const key of ['a', 'b', 'c']) await policy.execute(async () => key, { key });
    const ttls = ['a', 'b', 'c'].map((k) => (store.get(k) as CacheEntry).freshUntil);
    expect(ttls[0]).toBeCloseTo(800);
    expect(ttls[1]).toBeCloseTo(1_000);
    expect(ttls[2]).toBeCloseTo(1_199.6);
  });

  it('refreshes early by XFetch: likelier the nearer the expiry, never with a draw of ~1', async () => {
    const clock = createFakeClock();
    let draw = 0.999_999;
    const store = memoryCacheStore({ clock });
    const policy = cache({ store, ttlMs: 1_000, earlyRefresh: { beta: 1 }, clock, random: () => draw });
    const loads: boolean[] = [];
    policy.onLoad(({ background }) => loads.push(background));
    // The first load takes 100 ms: δ = 100.
    const first = policy.execute(() => new Promise((r) => clock.setTimeout(() => r('v1'), 100)), {
      key: 'k',
    });
    await clock.advance(100);
    await first;
    let n = 1;
    const fn = async () => `v${++n}`;
    await clock.advance(850); // the entry, made at 100, expires at 1,100: 150 ms left
    expect(await policy.execute(fn, { key: 'k' })).toBe('v1');
    expect(loads).toEqual([false]); // −δ·ln(0.999999) ≈ 0: no early refresh
    draw = 0.2; // −100·ln(0.2) ≈ 161 ms ≥ 150 ms left: refresh now, in the background
    expect(await policy.execute(fn, { key: 'k' })).toBe('v1');
    await clock.advance(0);
    expect(loads).toEqual([false, true]);
    expect(await policy.execute(fn, { key: 'k' })).toBe('v2');
  });

  it('caches negative values only with negativeTtlMs, for that long', async () => {
    const { clock, policy } = setup({ negativeTtlMs: 100 });
    let n = 0;
    const notFound = async () => {
      n++;
      return null;
    };
    await policy.execute(notFound, { key: 'k' });
    await policy.execute(notFound, { key: 'k' });
    expect(n).toBe(1);
    await clock.advance(100);
    await policy.execute(notFound, { key: 'k' });
    expect(n).toBe(2);
    const plain = setup();
    await plain.policy.execute(notFound, { key: 'k' });
    await plain.policy.execute(notFound, { key: 'k' });
    expect(n).toBe(4);
  });

  it("takes the entry's TTL and tags from the loader's ctx.cache, and drops tagged entries", async () => {
    const { clock, policy } = setup({ tags: ['all'] });
    await policy.execute(
      async (ctx) => {
        ctx.cache!.ttlMs = 50;
        ctx.cache!.tags = ['user:1'];
        return 'short';
      },
      { key: 'a' },
    );
    await policy.execute(async (ctx) => (ctx.cache === undefined ? 'none' : 'long'), { key: 'b' });
    await clock.advance(50);
    expect(await policy.get('a')).toBeUndefined();
    expect(await policy.get('b')).toBe('long');
    await policy.execute(
      async (ctx) => {
        ctx.cache!.tags = ['user:1'];
        return 'tagged';
      },
      { key: 'c' },
    );
    await policy.invalidateTag('user:1');
    expect(await policy.get('c')).toBeUndefined();
    expect(await policy.get('b')).toBe('long');
    await policy.invalidateTag('all');
    expect(await policy.get('b')).toBeUndefined();
  });

  it('is outside the load: an inner retry retries the load, the caller sees one answer', async () => {
    const clock = createFakeClock();
    const c = cache({ store: memoryCacheStore({ clock }), ttlMs: 1_000, clock });
    const policy = compose(c, retry({ maxAttempts: 3, backoff: { delayMs: () => 0 }, clock }));
    let n = 0;
    const flaky = async () => {
      if (++n < 3) throw new Error('flaky');
      return 'ok';
    };
    const call = policy.execute(flaky, { key: 'k' });
    await clock.runAll();
    expect(await call).toBe('ok');
    expect(await policy.execute(flaky, { key: 'k' })).toBe('ok');
    expect(n).toBe(3);
  });

  it('refuses keys that are empty, too long or not strings; takes any other bytes', async () => {
    const { policy } = setup({ maxKeyBytes: 16 });
    const fn = async () => 1;
    await expect(policy.execute(fn, { key: '' })).rejects.toThrow(/must not be empty/);
    await expect(policy.execute(fn, { key: 'é'.repeat(9) })).rejects.toThrow(
      /at most 16 bytes \(UTF-8\), got 18/,
    );
    await expect(policy.get(42 as never)).rejects.toThrow(/must be a string/);
    for (const key of ['a:b', '*', 'line\nbreak', '\u0000'])
      expect(await policy.execute(fn, { key })).toBe(1);
  });

  it('goes to the origin when the store fails or holds something foreign, and says so', async () => {
    const clock = createFakeClock();
    const broken: CacheStore = {
      get: async () => {
        throw new Error('store down');
      },
      set: () => {
        throw new Error('store down');
      },
      delete: () => {},
      invalidateTag: () => {},
    };
    const errors: string[] = [];
    const policy = cache({ store: broken, ttlMs: 1_000, clock });
    policy.onStoreError(({ operation }) => errors.push(operation));
    expect(await policy.execute(async () => 'fresh', { key: 'k' })).toBe('fresh');
    expect(errors).toEqual(['get', 'set']);
    const foreign = cache({
      store: { ...broken, get: () => ({ not: 'an entry' }) as never, set: () => {} },
      ttlMs: 1_000,
      clock,
    });
    foreign.onStoreError(({ operation, error }) => errors.push(`${operation}: ${(error as Error).message}`));
    expect(await foreign.execute(async () => 'origin', { key: 'k' })).toBe('origin');
    expect(errors[2]).toMatch(/get: .*not a cache entry/);
  });

  it('with a lock, loads once across instances sharing a store', async () => {
    const clock = createFakeClock();
    const store = memoryCacheStore({ clock });
    const lock = memoryLocks({ clock });
    // Two "processes": separate policies, so separate in-process single-flight.
    const one = cache({ store, ttlMs: 1_000, lock, clock });
    const two = cache({ store, ttlMs: 1_000, lock, clock });
    let loads = 0;
    const fn = () =>
      new Promise((resolve) => {
        loads++;
        clock.setTimeout(() => resolve('v'), 50);
      });
    const calls = [one, two, one, two].map((p) => p.execute(fn, { key: 'k' }));
    await clock.advance(50);
    await clock.advance(0);
    expect(await Promise.all(calls)).toEqual(['v', 'v', 'v', 'v']);
    expect(loads).toBe(1);
    expect((store.get('k') as CacheEntry).fence).toBe(1);
  });

  it('validates its options, naming the option', () => {
    const store = memoryCacheStore();
    expect(() => cache({ store, ttlMs: 0 })).toThrow(/cache: option "ttlMs"/);
    expect(() => cache({ store: {} as never, ttlMs: 1 })).toThrow(/cache: option "store"/);
    expect(() => cache({ store, ttlMs: 1, jitter: 1 })).toThrow(/option "jitter"/);
    expect(() => cache({ store, ttlMs: 1, earlyRefresh: { beta: -1 } })).toThrow(/"beta"/);
    expect(() => cache({ store, ttlMs: 1, lock: {} as never })).toThrow(/option "lock"/);
    expect(() => cache({ store, ttlMs: 1, tags: ['ok', ''] })).toThrow(/option "tags"/);
    expect(() => cache({ store, ttlMs: 1, staleIfErrorMs: -1 })).toThrow(/"staleIfErrorMs"/);
    expect(() => cache({ store, ttlMs: 1, ttl: 5 } as never)).toThrow(/ttl/);
  });
});
