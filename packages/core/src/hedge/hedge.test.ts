import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HedgeLostError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import type { PolicyContext } from '../pipeline/context.js';
import { retryBudget } from '../retry/budget.js';
import { createFakeClock, type FakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { hedge } from './hedge.js';

/** An attempt that answers after `ms` on the clock (or fails), and stops when its signal aborts. */
function after(
  clock: FakeClock,
  ms: number,
  outcome: { value: unknown } | { error: unknown },
  ctx: PolicyContext,
) {
  return new Promise((resolve, reject) => {
    const handle = clock.setTimeout(
      () => ('error' in outcome ? reject(outcome.error) : resolve(outcome.value)),
      ms,
    );
    ctx.signal.addEventListener('abort', () => {
      clock.clearTimeout(handle);
      reject(ctx.signal.reason);
    });
  });
}

describe('hedge with a fixed delay', () => {
  it('starts a hedge after the delay, takes the first answer and aborts the loser with HedgeLostError', async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 100, clock });
    const hedges: unknown[] = [];
    policy.onHedge((e) => hedges.push([e.attempt, e.delayMs]));
    const signals: AbortSignal[] = [];
    const result = policy.execute((ctx) => {
      signals.push(ctx.signal);
      return after(clock, ctx.attempt === 1 ? 1_000 : 50, { value: `attempt ${ctx.attempt}` }, ctx);
    });
    await clock.advance(99);
    expect(signals).toHaveLength(1);
    await clock.advance(1);
    expect(signals).toHaveLength(2);
    await clock.advance(50);
    await expect(result).resolves.toBe('attempt 2');
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(HedgeLostError);
    expect(signals[1]!.aborted).toBe(false);
    expect(hedges).toEqual([[2, 100]]);
    expect(clock.pending).toBe(0);
  });

  it('makes no hedge and no timer of its own for calls that answer before the delay', async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 100, clock });
    let attempts = 0;
    await Promise.all(
      Array.from({ length: 50 }, () =>
        policy.execute(() => {
          attempts++;
          return 'fast';
        }),
      ),
    );
    expect(attempts).toBe(50);
    expect(clock.pending).toBeLessThanOrEqual(1); // one shared timer, left armed, no more
  });

  it('hedges at once after a failure, and answers with the primary error when every attempt fails', async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 100, maxHedges: 2, clock });
    let attempts = 0;
    const result = policy
      .execute((ctx) => {
        attempts++;
        return Promise.reject(new Error(`failure ${ctx.attempt}`));
      })
      .catch((e: unknown) => e);
    await clock.advance(0);
    expect(await result).toEqual(new Error('failure 1'));
    expect(attempts).toBe(3);
  });

  it('never hedges a call that must not be repeated', async () => {
    const clock = createFakeClock();
    let attempts = 0;
    const result = hedge({ delayMs: 10, clock }).execute(
      (ctx) => {
        attempts++;
        return after(clock, 100, { value: 'once' }, ctx);
      },
      { idempotent: false },
    );
    await clock.advance(100);
    await expect(result).resolves.toBe('once');
    expect(attempts).toBe(1);
  });

  it('stops hedging when its budget is spent', async () => {
    const clock = createFakeClock();
    const budget = retryBudget({ ratio: 0, minPerSecond: 0.1, windowMs: 10_000, clock }); // one extra attempt
    const policy = hedge({ delayMs: 10, budget, clock });
    let attempts = 0;
    const slow = (ctx: PolicyContext) => {
      attempts++;
      return after(clock, 100, { value: ctx.attempt }, ctx);
    };
    const first = policy.execute(slow);
    const second = policy.execute(slow);
    await clock.advance(100);
    await Promise.all([first, second]);
    expect(attempts).toBe(3); // the second call found the budget empty
  });

  it('hedges on values shouldHedge picks', async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 1_000, clock, shouldHedge: (o) => 'value' in o && o.value === 'stale' });
    const result = policy.execute((ctx) => (ctx.attempt === 1 ? 'stale' : 'fresh'));
    await clock.advance(0);
    await expect(result).resolves.toBe('fresh');
  });
});

describe('hedge modes', () => {
  it("'parallel' starts every attempt at once and keeps the first answer", async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 0, maxHedges: 2, mode: 'parallel', clock });
    const started: number[] = [];
    const signals: AbortSignal[] = [];
    const result = policy.execute((ctx) => {
      started.push(clock.now());
      signals.push(ctx.signal);
      return after(clock, [300, 100, 200][ctx.attempt - 1]!, { value: ctx.attempt }, ctx);
    });
    await clock.advance(100);
    await expect(result).resolves.toBe(2);
    expect(started).toEqual([0, 0, 0]);
    expect(signals.map((s) => s.aborted)).toEqual([true, false, true]);
  });

  it("'fallback' starts another attempt only after a failure, never on a timer", async () => {
    const clock = createFakeClock();
    const policy = hedge({ delayMs: 10, mode: 'fallback', clock });
    let attempts = 0;
    const slow = policy.execute((ctx) => {
      attempts++;
      return after(clock, 500, { value: 'slow but fine' }, ctx);
    });
    await clock.advance(500);
    await expect(slow).resolves.toBe('slow but fine');
    expect(attempts).toBe(1);
    const failing = policy.execute((ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('x')) : 'second'));
    await expect(failing).resolves.toBe('second');
  });
});

describe('hedge with an observed percentile', () => {
  it('uses initialMs until minSamples, then the percentile of successful call latencies', async () => {
    const clock = createFakeClock();
    const policy = hedge({
      delay: { percentile: 0.9, initialMs: 500, minSamples: 20, windowMs: 60_000 },
      clock,
    });
    expect(policy.currentDelayMs).toBe(500);
    for (let i = 1; i <= 20; i++) {
      const call = policy.execute((ctx) => after(clock, i * 10, { value: i }, ctx));
      await clock.advance(i * 10);
      await call;
    }
    // 20 latencies 10…200 ms: the 90th percentile is 180 ms, read up to 5% high.
    expect(policy.currentDelayMs).toBeGreaterThanOrEqual(180);
    expect(policy.currentDelayMs).toBeLessThanOrEqual(189);
    await clock.advance(60_000); // the window slides past them all
    expect(policy.currentDelayMs).toBe(500);
  });
});

describe('hedge under random schedules (property)', () => {
  it('answers once, aborts every loser, leaves nothing running, and never exceeds maxHedges', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 50 }),
        fc.constantFrom('latency', 'parallel', 'fallback'),
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 100 }), fails: fc.boolean() }), {
          minLength: 4,
          maxLength: 4,
        }),
        async (maxHedges, delayMs, mode, plan) => {
          const clock = createFakeClock();
          const policy = hedge({ delayMs, maxHedges, mode: mode as 'latency', clock });
          const attempts: Array<{ settled: boolean; signal: AbortSignal }> = [];
          const result = policy
            .execute((ctx) => {
              const step = plan[ctx.attempt - 1]!;
              const record = { settled: false, signal: ctx.signal };
              attempts.push(record);
              return after(
                clock,
                step.ms,
                step.fails ? { error: new Error(`f${ctx.attempt}`) } : { value: ctx.attempt },
                ctx,
              ).finally(() => {
                record.settled = true;
              });
            })
            .then(
              (value) => ({ value }),
              (error: unknown) => ({ error }),
            );
          await clock.runAll();
          const outcome = await result;
          if (attempts.length > 1 + maxHedges) return false;
          if (!attempts.every((a) => a.settled)) return false;
          if ('value' in outcome) {
            // The winner is not aborted; every other attempt either failed on its own or was aborted.
            const winner = attempts[(outcome.value as number) - 1]!;
            if (winner.signal.aborted) return false;
          } else if ((outcome.error as Error).message !== 'f1') return false;
          return clock.pending === 0;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('hedge options', () => {
  it('validates, naming the option', () => {
    expect(() => hedge({} as never)).toThrow(/exactly one of option "delayMs" .* and option "delay"/);
    expect(() => hedge({ delayMs: 1, delay: { percentile: 0.9, initialMs: 1 } })).toThrow(/exactly one/);
    expect(() => hedge({ delay: { percentile: 1, initialMs: 5 } })).toThrow(
      /hedge.delay: option "percentile"/,
    );
    expect(() => hedge({ delay: { percentile: 0, initialMs: 5 } })).toThrow(/"percentile"/);
    expect(() => hedge({ delay: { percentile: 0.9, initialMs: 5, minMs: 10, maxMs: 5 } })).toThrow(
      /"minMs" must be <= maxMs/,
    );
    expect(() => hedge({ delay: { percentile: 0.9 } as never })).toThrow(/"initialMs"/);
    expect(() => hedge({ delayMs: 5, maxHedges: 0 })).toThrow(/"maxHedges"/);
    expect(() => hedge({ delayMs: 5, mode: 'race' as never })).toThrow(/"mode"/);
    // A budget-like object without recordRequest would fail on every call: refused up front.
    expect(() => hedge({ delayMs: 5, budget: { tryAcquire: () => true } as never })).toThrow(
      /hedge: option "budget" must be a retryBudget/,
    );
  });

  it('is refused by compose when its hedges could only start past an outer timeout', () => {
    expect(() => compose(timeout(200), hedge({ delayMs: 100, maxHedges: 2 }))).toThrow(
      /compose: hedge "hedge" \(2 × 100 ms, position 2\) would start hedges at or past the timeout "timeout" \(200 ms/,
    );
    expect(() => compose(timeout(250), hedge({ delayMs: 100, maxHedges: 2 }))).not.toThrow();
  });
});
