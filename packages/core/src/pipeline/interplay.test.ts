// How the policies behave together in one pipeline.
import { describe, expect, it } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { breakers } from '../circuit-breaker/breakers.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { CircuitOpenError, TimeoutError } from '../errors/errors.js';
import { fallback } from '../fallback/fallback.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { compose } from './compose.js';

describe('policies together', () => {
  it('a timeout around a bulkhead takes a queued call out of the queue when it fires', async () => {
    const clock = createFakeClock();
    const pool = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const policy = compose(timeout(50, { clock }), pool);
    let release!: () => void;
    const running = policy.execute(() => new Promise<void>((resolve) => (release = resolve)));
    let queuedRan = false;
    const queued = policy
      .execute(() => {
        queuedRan = true;
      })
      .catch((e: unknown) => e);
    expect(pool.queued).toBe(1);
    await clock.advance(50);
    expect(await queued).toBeInstanceOf(TimeoutError);
    expect(pool.queued).toBe(0);
    release();
    await expect(running).rejects.toBeInstanceOf(TimeoutError); // it ran past its own 50 ms
    expect(queuedRan).toBe(false);
    expect(pool.executing).toBe(0);
  });

  it('retry outside a breaker gives up at once on a circuit that stays open longer than its next delay', async () => {
    const clock = createFakeClock();
    const breaker = circuitBreaker({ breaker: breakers.consecutive(2), halfOpenAfterMs: 30_000, clock });
    const retrying = retry({ maxAttempts: 4, backoff: backoff.constant({ delayMs: 10 }), clock });
    const reasons: string[] = [];
    retrying.onGiveUp(({ reason }) => reasons.push(reason));
    let calls = 0;
    const result = compose(retrying, breaker)
      .execute(() => {
        calls++;
        throw new Error('down');
      })
      .catch((e: unknown) => e);
    await clock.advance(10); // attempt 2 fails: the circuit opens for 30 s
    await clock.advance(10); // attempt 3 is refused: waiting 30 s is not what the caller asked for
    const error = await result;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(calls).toBe(2);
    expect(reasons).toEqual(['circuit-open']);
    expect(clock.now()).toBe(20);
  });

  it('retry waits for an open circuit that half-opens before the next delay ends, then succeeds', async () => {
    const clock = createFakeClock();
    const breaker = circuitBreaker({ breaker: breakers.consecutive(2), halfOpenAfterMs: 15, clock });
    const policy = compose(
      retry({ maxAttempts: 4, backoff: backoff.constant({ delayMs: 10 }), clock }),
      breaker,
    );
    let calls = 0;
    const result = policy.execute(() => {
      calls++;
      if (calls <= 2) throw new Error('down');
      return 'recovered';
    });
    await clock.advance(10); // attempt 2 fails: the circuit opens for 15 ms
    expect(breaker.state).toBe('open');
    await clock.advance(10); // attempt 3 is refused with 5 ms left: retry waits its 10 ms
    expect(calls).toBe(2);
    await clock.advance(10);
    await expect(result).resolves.toBe('recovered');
    expect(calls).toBe(3);
    expect(breaker.state).toBe('closed');
  });

  it('a fallback outside an open circuit answers without calling fn', async () => {
    const breaker = circuitBreaker({ breaker: breakers.consecutive(1) });
    const policy = compose(fallback('cached'), breaker);
    await policy.execute(() => Promise.reject(new Error('down')));
    let called = false;
    await expect(
      policy.execute(() => {
        called = true;
        return 'live';
      }),
    ).resolves.toBe('cached');
    expect(called).toBe(false);
  });

  it('a caller abort while half-open frees the trial slot without moving the circuit', async () => {
    const clock = createFakeClock();
    const breaker = circuitBreaker({ breaker: breakers.consecutive(1), halfOpenAfterMs: 10, clock });
    await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await clock.advance(10);
    const controller = new AbortController();
    const trial = breaker.execute(
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      { signal: controller.signal },
    );
    controller.abort('bye');
    await expect(trial).rejects.toBe('bye');
    await clock.advance(0);
    expect(breaker.state).toBe('half-open');
    await expect(breaker.execute(() => 'ok')).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('retry does not hammer an isolated circuit (no retryAfterMs: backoff applies, then it gives up)', async () => {
    const clock = createFakeClock();
    const breaker = circuitBreaker({ clock });
    breaker.isolate();
    const policy = compose(
      retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }),
      breaker,
    );
    const result = policy.execute(() => 'never').catch((e: unknown) => e);
    await clock.advance(200);
    const error = (await result) as CircuitOpenError;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.isolated).toBe(true);
  });
});
