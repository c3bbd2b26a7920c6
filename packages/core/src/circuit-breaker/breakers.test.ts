import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakers, type OpenReason } from './breakers.js';

interface Call {
  advanceMs: number;
  failed: boolean;
  durationMs: number;
}

const calls = fc.array(
  fc.record({
    advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 5_000 })),
    failed: fc.boolean(),
    durationMs: fc.integer({ min: 0, max: 200 }),
  }),
  { maxLength: 300 },
);

/**
 * The plain reference: every call kept with its time; a call counts while its bucket is one of
 * the last `buckets` buckets, the newest being the one the current call falls in.
 */
function referenceTime(o: {
  windowMs: number;
  buckets: number;
  failureRate: number;
  minCalls: number;
  slowCallMs: number;
  slowCallRate: number;
}) {
  const bucketMs = o.windowMs / o.buckets;
  const seen: Array<{ bucket: number; failed: boolean; slow: boolean }> = [];
  return (failed: boolean, durationMs: number, now: number): OpenReason | undefined => {
    const bucket = Math.floor(now / bucketMs);
    const slow = durationMs >= o.slowCallMs;
    seen.push({ bucket, failed, slow });
    const live = seen.filter((c) => c.bucket > bucket - o.buckets);
    if (!(failed || slow) || live.length < o.minCalls) return undefined;
    const f = live.filter((c) => c.failed).length;
    const s = live.filter((c) => c.slow).length;
    if (f / live.length >= o.failureRate) return 'failures';
    if (s / live.length >= o.slowCallRate) return 'slow-calls';
    return undefined;
  };
}

describe('breakers.time (model-based)', () => {
  it('decides as a plain reference window does, over random call sequences and clock moves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 5_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 100 }),
        calls,
        (windowMs, buckets, failurePercent, minCalls, slowPercent, sequence: Call[]) => {
          const options = {
            windowMs,
            buckets,
            failureRate: failurePercent / 100,
            minCalls,
            slowCallMs: 100,
            slowCallRate: slowPercent / 100,
          };
          const window = breakers.time(options).create();
          const reference = referenceTime(options);
          let now = 1_000_000;
          for (const call of sequence) {
            now += call.advanceMs;
            const got = window.record(call.failed, call.durationMs, now);
            const want = reference(call.failed, call.durationMs, now);
            if (got !== want) return false;
          }
          return true;
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('forgets calls once their bucket slides out of the window', () => {
    const window = breakers.time({ windowMs: 1_000, buckets: 10, failureRate: 0.5, minCalls: 2 }).create();
    expect(window.record(true, 0, 0)).toBeUndefined(); // 1 call: below minCalls
    expect(window.record(true, 0, 1_050)).toBeUndefined(); // the first one has slid out
    expect(window.record(true, 0, 1_060)).toBe('failures');
  });

  it('validates its options, naming them', () => {
    expect(() => breakers.time({ windowMs: 0 })).toThrow(/breakers.time: option "windowMs"/);
    expect(() => breakers.time({ buckets: 0 })).toThrow(/"buckets" must be an integer >= 1/);
    expect(() => breakers.time({ slowCallRate: 2 })).toThrow(/"slowCallRate" must be a fraction/);
    expect(() => breakers.time({ window: 5 } as never)).toThrow(/unknown option "window"/);
    expect(breakers.time({ windowMs: 30_000 }).windowMs).toBe(30_000);
  });
});

describe('breakers.count (model-based)', () => {
  it('decides as a plain array of the last `size` calls does, slow calls included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 100 }),
        fc.nat(),
        calls,
        (size, failurePercent, slowPercent, minSeed, sequence: Call[]) => {
          const minCalls = 1 + (minSeed % size);
          const options = {
            size,
            failureRate: failurePercent / 100,
            minCalls,
            slowCallMs: 100,
            slowCallRate: slowPercent / 100,
          };
          const window = breakers.count(options).create();
          const last: Array<{ failed: boolean; slow: boolean }> = [];
          for (const call of sequence) {
            const got = window.record(call.failed, call.durationMs, 0);
            const slow = call.durationMs >= 100;
            last.push({ failed: call.failed, slow });
            if (last.length > size) last.shift();
            let want: OpenReason | undefined;
            if ((call.failed || slow) && last.length >= minCalls) {
              const f = last.filter((c) => c.failed).length * 100;
              const sl = last.filter((c) => c.slow).length * 100;
              // Integer arithmetic: the rates compared exactly.
              if (f >= failurePercent * last.length) want = 'failures';
              else if (sl >= slowPercent * last.length) want = 'slow-calls';
            }
            if (got !== want) return false;
          }
          return true;
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('slow calls', () => {
  it('open the count breaker at slowCallRate, whatever the outcome', () => {
    const window = breakers.count({ size: 4, minCalls: 4, slowCallMs: 100, slowCallRate: 0.5 }).create();
    expect(window.record(false, 150, 0)).toBeUndefined();
    expect(window.record(false, 10, 0)).toBeUndefined();
    expect(window.record(false, 10, 0)).toBeUndefined();
    expect(window.record(false, 100, 0)).toBe('slow-calls'); // 2 of 4 took >= 100 ms
  });

  it('are not counted unless slowCallMs is given', () => {
    expect(breakers.count().measures).toBe(false);
    expect(breakers.count({ slowCallMs: 50 }).measures).toBe(true);
    const window = breakers.count({ size: 2, minCalls: 1 }).create();
    expect(window.record(false, 1e9, 0)).toBeUndefined();
  });
});
