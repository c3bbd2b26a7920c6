import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../testing/fake-clock.js';
import { type CacheEntry, memoryCacheStore } from './cache-store.js';

const entry = (value: unknown, over: Partial<CacheEntry> = {}): CacheEntry => ({
  value,
  createdAt: 0,
  freshUntil: 100,
  staleUntil: 200,
  loadMs: 1,
  tags: [],
  negative: false,
  ...over,
});

describe('memoryCacheStore', () => {
  it('answers synchronously and drops an entry past its staleUntil', async () => {
    const clock = createFakeClock();
    const store = memoryCacheStore({ clock });
    store.set('k', entry('v'));
    expect(store.get('k')?.value).toBe('v');
    await clock.advance(199);
    expect(store.get('k')?.value).toBe('v');
    await clock.advance(1);
    expect(store.get('k')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('evicts the least recently used past max, and its tags with it', () => {
    const store = memoryCacheStore({ max: 2, clock: createFakeClock() });
    store.set('a', entry(1, { tags: ['t'] }));
    store.set('b', entry(2, { tags: ['t'] }));
    store.get('a');
    store.set('c', entry(3));
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')?.value).toBe(1);
    store.set('b', entry(22)); // b again, untagged now
    store.invalidateTag('t');
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')?.value).toBe(22);
  });

  it('bounds the bytes it holds, and drops an entry too big to keep at all', () => {
    const store = memoryCacheStore({
      maxBytes: 1_000,
      sizeOf: (e) => String(e.value).length,
      clock: createFakeClock(),
    });
    store.set('a', entry('x'.repeat(600)));
    store.set('b', entry('y'.repeat(600)));
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toBeDefined();
    store.set('b', entry('z'.repeat(2_000)));
    expect(store.get('b')).toBeUndefined();
    // A sizeOf that throws or answers nonsense never makes set throw.
    const odd = memoryCacheStore({ maxBytes: 10, sizeOf: () => Number.NaN, clock: createFakeClock() });
    odd.set('k', entry(1));
    expect(odd.get('k')?.value).toBe(1);
  });

  it('keeps the entry of the highest fence', () => {
    const store = memoryCacheStore({ clock: createFakeClock() });
    store.set('k', entry('new', { fence: 5 }));
    store.set('k', entry('stale owner', { fence: 4 }));
    expect(store.get('k')?.value).toBe('new');
    store.set('k', entry('next owner', { fence: 6 }));
    expect(store.get('k')?.value).toBe('next owner');
  });

  it('validates its options', () => {
    expect(() => memoryCacheStore({ max: 0 })).toThrow(/memoryCacheStore: option "max"/);
    expect(() => memoryCacheStore({ sizeOf: 1 as never })).toThrow(/"sizeOf"/);
  });
});
