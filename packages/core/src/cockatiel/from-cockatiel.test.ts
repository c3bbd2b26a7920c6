import * as cockatiel from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { breakers } from '../circuit-breaker/breakers.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { isBreakwaterError, TimeoutError } from '../errors/errors.js';
import { fallback } from '../fallback/fallback.js';
import { compose } from '../pipeline/compose.js';
import type { PolicyContext } from '../pipeline/context.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { fromCockatiel } from './from-cockatiel.js';

function untilAborted(ctx: PolicyContext): Promise<never> {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
}

describe('fromCockatiel with real cockatiel 3 policies', () => {
  it('runs a cockatiel retry inside a Breakwater pipeline', async () => {
    const ckRetry = cockatiel.retry(cockatiel.handleAll, { maxAttempts: 2 });
    let calls = 0;
    const policy = compose(timeout(5_000), fromCockatiel(ckRetry, { name: 'legacy-retry' }));
    await expect(
      policy.execute(() => {
        if (++calls < 3) throw new Error('flaky');
        return 'third';
      }),
    ).resolves.toBe('third');
    expect(calls).toBe(3); // cockatiel's maxAttempts counts retries only
  });

  it('aborts the work inside cockatiel when a Breakwater timeout around it fires', async () => {
    const clock = createFakeClock();
    const seen: AbortSignal[] = [];
    const policy = compose(
      timeout(100, { clock }),
      fromCockatiel(cockatiel.retry(cockatiel.handleType(RangeError), { maxAttempts: 2 })),
    );
    const result = policy
      .execute((ctx) => {
        seen.push(ctx.signal);
        return untilAborted(ctx);
      })
      .catch((e: unknown) => e);
    await clock.advance(100);
    expect(await result).toBeInstanceOf(TimeoutError);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.aborted).toBe(true);
  });

  it("hands a cockatiel timeout's abort to the layers inside it", async () => {
    const ckTimeout = cockatiel.timeout(20, cockatiel.TimeoutStrategy.Cooperative);
    let reason: unknown;
    const value = await compose(fromCockatiel(ckTimeout), timeout(60_000)).execute(async (ctx) => {
      await untilAborted(ctx).catch((e: unknown) => {
        reason = e;
      });
      return 'finished after the abort';
    });
    // The inner ctx.signal aborted with cockatiel's own reason; cockatiel's cooperative timeout then
    // returns what fn returned (Breakwater's would reject with TimeoutError).
    expect((reason as Error).name).toBe('AbortError');
    expect(value).toBe('finished after the abort');
  });

  it("passes cockatiel's rejections and Breakwater's errors through unchanged", async () => {
    const ckBreaker = cockatiel.circuitBreaker(cockatiel.handleAll, {
      halfOpenAfter: 10_000,
      breaker: new cockatiel.ConsecutiveBreaker(1),
    });
    const policy = fromCockatiel(ckBreaker);
    await policy.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    const refused = await policy.execute(() => 'never').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(cockatiel.BrokenCircuitError);
    expect(isBreakwaterError(refused)).toBe(false);
    // A Breakwater rejection from inside cockatiel reaches the caller as it is.
    const bw = circuitBreaker({ breaker: breakers.consecutive(1) });
    const wrapped = compose(fromCockatiel(cockatiel.noop), bw);
    await wrapped.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    const open = await wrapped.execute(() => 'never').catch((e: unknown) => e);
    expect(isBreakwaterError(open) && open.code).toBe('BW_CIRCUIT_OPEN');
    // And a Breakwater fallback can replace cockatiel's rejection.
    await expect(compose(fallback('cached'), policy).execute(() => 'never')).resolves.toBe('cached');
  });

  it('refuses what is not a cockatiel policy', () => {
    expect(() => fromCockatiel({} as never)).toThrow(
      /fromCockatiel: option "policy" must be a cockatiel policy/,
    );
    expect(() => fromCockatiel(cockatiel.noop, { nam: 'x' } as never)).toThrow(/unknown option "nam"/);
  });
});
