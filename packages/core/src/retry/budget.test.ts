import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createFakeClock } from '../testing/fake-clock.js';
import { backoff } from './backoff.js';
import { retryBudget } from './budget.js';
import { retry } from './retry.js';

describe('retryBudget (property)', () => {
  it('never grants more extra attempts in the window ending at a grant than the bound', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 50 }).map((p) => p / 100),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 100, max: 10_000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(
          fc.record({
            advanceMs: fc.oneof(
              fc.constant(0),
              fc.integer({ min: 0, max: 200 }),
              fc.integer({ min: 0, max: 20_000 }),
            ),
            op: fc.constantFrom('request', 'retry', 'retry'),
          }),
          { maxLength: 400 },
        ),
        async (ratio, minPerSecond, windowMs, buckets, steps) => {
          const clock = createFakeClock({ now: 1_000_000 });
          const budget = retryBudget({ ratio, minPerSecond, windowMs, buckets, clock });
          const requests: number[] = [];
          const grants: number[] = [];
          for (const step of steps) {
            await clock.advance(step.advanceMs);
            const now = clock.now();
            if (step.op === 'request') {
              budget.recordRequest();
              requests.push(now);
              continue;
            }
            if (!budget.tryAcquire()) continue;
            grants.push(now);
            const inWindow = (t: number) => t > now - windowMs && t <= now;
            const granted = grants.filter(inWindow).length;
            const bound = ratio * requests.filter(inWindow).length + (minPerSecond * windowMs) / 1_000;
            if (granted > bound + 1e-9) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('retryBudget', () => {
  it('grants minPerSecond × window on a quiet service and ratio × requests on a busy one', () => {
    const clock = createFakeClock();
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 1, windowMs: 10_000, clock });
    expect(budget.available).toBe(10);
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(budget.available).toBe(20);
    let granted = 0;
    while (budget.tryAcquire()) granted++;
    expect(granted).toBe(20);
    expect(budget.available).toBe(0);
  });

  it('refills as the window slides past old grants', async () => {
    const clock = createFakeClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 1, windowMs: 1_000, buckets: 10, clock });
    expect(budget.tryAcquire()).toBe(true);
    expect(budget.tryAcquire()).toBe(false);
    await clock.advance(1_000); // the grant's bucket is only partly out of the window: still counted
    expect(budget.tryAcquire()).toBe(false);
    await clock.advance(100);
    expect(budget.tryAcquire()).toBe(true);
  });

  it('validates its options, naming them', () => {
    expect(() => retryBudget({ ratio: -1 })).toThrow(/retryBudget: option "ratio"/);
    expect(() => retryBudget({ windowMs: 0 })).toThrow(/"windowMs"/);
    expect(() => retryBudget({ perSecond: 1 } as never)).toThrow(/unknown option "perSecond"/);
    expect(() => retry({ budget: {} as never })).toThrow(/retry: option "budget" must be a retryBudget/);
  });
});

describe('retry with a budget', () => {
  it("ends retrying with onGiveUp reason 'budget' and the last outcome once the budget is spent", async () => {
    const clock = createFakeClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 0.1, windowMs: 10_000, clock }); // one extra attempt
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 0 }), budget, clock });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(`${e.reason}@${e.attempts}`));
    let calls = 0;
    await expect(
      policy.execute(() => {
        calls++;
        throw new Error(`failure ${calls}`);
      }),
    ).rejects.toThrow('failure 2');
    expect(calls).toBe(2);
    expect(reasons).toEqual(['budget@2']);
  });

  it('is shared: nested layers of retries cannot multiply attempts past it', async () => {
    const budget = retryBudget({ ratio: 0.1, minPerSecond: 0 });
    const quick = () => retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 0 }), budget });
    const outer = quick();
    const inner = quick();
    let calls = 0;
    for (let i = 0; i < 100; i++) {
      await outer
        .execute(() =>
          inner.execute(() => {
            calls++;
            throw new Error('down');
          }),
        )
        .catch(() => {});
    }
    // 100 callers: 100 outer requests and at least 100 inner ones; without the budget 900 calls.
    expect(calls).toBeLessThan(100 * 1.25);
  });
});
