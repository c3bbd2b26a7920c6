import { describe, expect, it } from 'vitest';
import { isBreakwaterError, OverloadedError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { throttle } from './throttle.js';

const refused = () => Promise.reject(new Error('503'));

describe('throttle', () => {
  it('never rejects while the backend accepts', async () => {
    const policy = throttle({ random: () => 0 });
    for (let i = 0; i < 1_000; i++) await policy.execute(() => 'ok');
    expect(policy.rejectionProbability).toBe(0);
  });

  it('rejects with probability max(0, (requests − k·accepts) / (requests + 1))', async () => {
    const clock = createFakeClock();
    const policy = throttle({ k: 2, clock, random: () => 0.999 }); // never below p: every call goes through
    for (let i = 0; i < 10; i++) await policy.execute(() => 'ok');
    for (let i = 0; i < 30; i++) await policy.execute(refused).catch(() => {});
    // 40 requests, 10 accepts: (40 − 20) / 41.
    expect(policy.rejectionProbability).toBeCloseTo(20 / 41, 12);
  });

  it('refuses locally with OverloadedError BW_THROTTLED, without calling fn, and counts the refusal as a request', async () => {
    const clock = createFakeClock();
    let draw = 0.999;
    const policy = throttle({ k: 2, clock, random: () => draw });
    for (let i = 0; i < 4; i++) await policy.execute(refused).catch(() => {});
    expect(policy.rejectionProbability).toBeCloseTo(4 / 5, 12);
    draw = 0.5;
    let called = false;
    const error = await policy
      .execute(() => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OverloadedError);
    expect(isBreakwaterError(error) && error.code).toBe('BW_THROTTLED');
    expect((error as OverloadedError).retryAfterMs).toBe(10_000);
    expect(called).toBe(false);
    expect(policy.rejectionProbability).toBeCloseTo(5 / 6, 12);
  });

  it('forgets as the window slides', async () => {
    const clock = createFakeClock();
    const policy = throttle({ windowMs: 1_000, buckets: 10, clock, random: () => 0.999 });
    for (let i = 0; i < 10; i++) await policy.execute(refused).catch(() => {});
    expect(policy.rejectionProbability).toBeGreaterThan(0.9);
    await clock.advance(1_000);
    expect(policy.rejectionProbability).toBe(0);
  });

  it("counts the caller's abort and an inner throttle's refusal as accepted, and isRejection decides the rest", async () => {
    const inner = throttle({ random: () => 0 });
    const outer = throttle({ random: () => 0.999 });
    // Make the inner one refuse: a backend that refused once.
    await inner.execute(refused).catch(() => {});
    await compose(outer, inner)
      .execute(() => 'never')
      .catch(() => {});
    const controller = new AbortController();
    const aborted = outer.execute(
      () => {
        controller.abort();
        return Promise.reject(new Error('aborted work'));
      },
      { signal: controller.signal },
    );
    await aborted.catch(() => {});
    expect(outer.rejectionProbability).toBe(0); // 2 requests, 2 accepts
    const picky = throttle({ random: () => 0.999, isRejection: (o) => 'value' in o && o.value === 'busy' });
    await picky.execute(() => 'busy');
    await picky.execute(() => Promise.reject(new Error('404'))).catch(() => {});
    expect(picky.rejectionProbability).toBe(0); // 2 requests, 1 accept: (2 − 2) / 3
    await picky.execute(() => 'busy');
    expect(picky.rejectionProbability).toBeCloseTo(1 / 4, 12);
  });

  it('decides for transports outside execute with tryAdmit and record', () => {
    const policy = throttle({ k: 1, random: () => 0.5 });
    expect(policy.tryAdmit()).toBe(true);
    policy.record(false);
    expect(policy.tryAdmit()).toBe(true); // p = 1/2, draw 0.5 is not below it
    policy.record(false);
    expect(policy.rejectionProbability).toBeCloseTo(2 / 3, 12);
    expect(policy.tryAdmit()).toBe(false);
  });

  it('validates its options, naming them', () => {
    expect(() => throttle({ k: 0.5 })).toThrow(/throttle: option "k" must be a finite number >= 1/);
    expect(() => throttle({ windowMs: 0 })).toThrow(/"windowMs"/);
    expect(() => throttle({ isRejection: 'x' as never })).toThrow(/"isRejection" must be a function/);
    expect(() => throttle({ K: 2 } as never)).toThrow(/unknown option "K"/);
  });
});
