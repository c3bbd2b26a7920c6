import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoff } from './backoff.js';

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoff bounds (property)', () => {
  it('exponential delays are finite and within [0, maxMs] for any attempt, jitter and random', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.constantFrom('none', 'full', 'equal', 'decorrelated'),
        fc.integer({ min: 1, max: 10_000 }),
        unit,
        (initialMs, extra, factor, jitter, n, r) => {
          const maxMs = initialMs + extra;
          const b = backoff.exponential({
            initialMs,
            maxMs,
            ...(jitter === 'decorrelated' ? {} : { factor }),
            jitter: jitter as 'full',
          });
          const previous = b.delayMs(Math.max(1, n - 1), undefined, () => r);
          const delay = b.delayMs(n, previous, () => r);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(jitter === 'decorrelated' ? initialMs : 0);
          expect(delay).toBeLessThanOrEqual(maxMs);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('exponential stays finite over 10,000 consecutive attempts', () => {
    fc.assert(
      fc.property(fc.constantFrom('none', 'full', 'equal', 'decorrelated'), unit, (jitter, r) => {
        const b = backoff.exponential({
          initialMs: 50,
          maxMs: 2_000,
          ...(jitter === 'decorrelated' ? {} : { factor: 3 }),
          jitter: jitter as 'full',
        });
        let previous: number | undefined;
        for (let n = 1; n <= 10_000; n++) {
          const delay = b.delayMs(n, previous, () => r);
          if (!(Number.isFinite(delay) && delay >= 0 && delay <= 2_000)) return false;
          previous = delay;
        }
        return true;
      }),
      { numRuns: 20 },
    );
  });

  it('linear and constant delays are finite and within bounds', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.constantFrom('none', 'full', 'equal'),
        fc.integer({ min: 1, max: 1_000_000 }),
        unit,
        (initialMs, stepMs, extra, jitter, n, r) => {
          const maxMs = initialMs + extra;
          const lin = backoff
            .linear({ initialMs, stepMs, maxMs, jitter: jitter as 'full' })
            .delayMs(n, undefined, () => r);
          const con = backoff
            .constant({ delayMs: initialMs, jitter: jitter as 'full' })
            .delayMs(n, undefined, () => r);
          return lin >= 0 && lin <= maxMs && Number.isFinite(lin) && con >= 0 && con <= initialMs;
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('backoff schedules', () => {
  const mid = () => 0.5;
  it('exponential without jitter doubles up to the cap', () => {
    const b = backoff.exponential({ initialMs: 100, maxMs: 1_000, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 60].map((n) => b.delayMs(n, undefined, mid))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });

  it('full and equal jitter scale the exponential delay', () => {
    expect(backoff.exponential({ initialMs: 100, jitter: 'full' }).delayMs(3, undefined, () => 0.25)).toBe(
      100,
    );
    expect(backoff.exponential({ initialMs: 100, jitter: 'equal' }).delayMs(3, undefined, () => 0.5)).toBe(
      300,
    );
  });

  it('decorrelated jitter draws between initialMs and three times the previous delay', () => {
    const b = backoff.exponential({ initialMs: 100, maxMs: 10_000, jitter: 'decorrelated' });
    expect(b.delayMs(2, 1_000, () => 0)).toBe(100);
    expect(b.delayMs(2, 1_000, () => 0.999_999)).toBeCloseTo(3_000, 0);
  });

  it('linear grows by stepMs up to maxMs', () => {
    const b = backoff.linear({ initialMs: 10, stepMs: 5, maxMs: 22 });
    expect([1, 2, 3, 4].map((n) => b.delayMs(n, undefined, mid))).toEqual([10, 15, 20, 22]);
  });

  it('rejects bad options, naming them', () => {
    expect(() => backoff.exponential({ maxMs: 10, initialMs: 100 })).toThrow(
      'backoff.exponential: option "maxMs" must be >= initialMs (100), got 10',
    );
    expect(() => backoff.exponential({ factor: 0.5 })).toThrow(
      /"factor" must be a finite number >= 1, got 0.5/,
    );
    expect(() => backoff.linear({ jitter: 'decorrelated' as never })).toThrow(
      /"jitter" must be one of 'none', 'full', 'equal'/,
    );
    expect(() => backoff.constant({ delayMs: -1 })).toThrow(RangeError);
    expect(() => backoff.constant({} as never)).toThrow(
      /"delayMs" must be a finite number >= 0, got undefined/,
    );
  });
});

describe('backoff hardening', () => {
  it('uses Math.random when delayMs is called without one on a jittered schedule', () => {
    const delay = backoff.exponential({ initialMs: 100, jitter: 'full' }).delayMs(1);
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(delay).toBeLessThanOrEqual(100);
    expect(backoff.linear({ jitter: 'equal' }).delayMs(2)).toBeGreaterThanOrEqual(100);
  });

  it("refuses factor with jitter 'decorrelated', where it would be ignored", () => {
    expect(() => backoff.exponential({ factor: 3, jitter: 'decorrelated' })).toThrow(
      /option "factor" has no effect with jitter 'decorrelated'/,
    );
    expect(() => backoff.exponential({ jitter: 'decorrelated' })).not.toThrow();
  });
});
