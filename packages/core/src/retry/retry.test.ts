import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BreakwaterError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { backoff } from './backoff.js';
import { retry } from './retry.js';

function failing(times: number, error: () => unknown = () => new Error('flaky')) {
  let calls = 0;
  const fn = () => {
    calls++;
    if (calls <= times) throw error();
    return `ok after ${calls}`;
  };
  return { fn, calls: () => calls };
}

describe('retry options', () => {
  it('rejects bad options, naming the option and the value', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(
      new RangeError('retry: option "maxAttempts" must be an integer >= 1 (or Infinity), got 0'),
    );
    expect(() => retry({ maxAttempts: 1.5 })).toThrow(RangeError);
    expect(() => retry({ backoff: 100 as never })).toThrow(/retry: option "backoff" must be a backoff/);
    expect(() => retry({ retryOn: true as never })).toThrow(
      /retry: option "retryOn" must be a function, got true/,
    );
    expect(() => retry({ maxAttemps: 3 } as never)).toThrow(/retry: unknown option "maxAttemps"/);
    expect(() => retry({ clock: {} as never })).toThrow(/retry: option "clock"/);
  });
});

describe('retry', () => {
  it('retries failures up to maxAttempts with the backoff between attempts', async () => {
    const clock = createFakeClock();
    const { fn, calls } = failing(2);
    const attempts: number[] = [];
    const result = retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 100 }), clock }).execute(
      (ctx) => {
        attempts.push(ctx.attempt);
        return fn();
      },
    );
    await clock.advance(99);
    expect(calls()).toBe(1);
    await clock.advance(1);
    expect(calls()).toBe(2);
    await clock.advance(100);
    await expect(result).resolves.toBe('ok after 3');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('rethrows the last error when attempts run out and reports give-up', async () => {
    const clock = createFakeClock();
    let n = 0;
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 0 }), clock });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(`${e.reason}:${e.attempts}`));
    const result = policy.execute(() => {
      n++;
      throw new Error(`failure ${n}`);
    });
    await expect(result).rejects.toThrow('failure 3');
    expect(reasons).toEqual(['max-attempts:3']);
  });

  it('does not wait on a timer for a zero delay', async () => {
    const clock = createFakeClock();
    const { fn } = failing(2);
    // Nothing advances the fake clock: a timer, even of 0 ms, would never fire.
    await expect(retry({ backoff: backoff.constant({ delayMs: 0 }), clock }).execute(fn)).resolves.toBe(
      'ok after 3',
    );
    expect(clock.pending).toBe(0);
  });

  it('retries values that retryOn selects and returns the last one when attempts run out', async () => {
    let n = 0;
    const policy = retry({
      maxAttempts: 3,
      backoff: backoff.constant({ delayMs: 0 }),
      retryOn: (outcome) => 'value' in outcome && outcome.value === 'busy',
    });
    await expect(policy.execute(() => (++n < 2 ? 'busy' : 'done'))).resolves.toBe('done');
    await expect(policy.execute(() => 'busy')).resolves.toBe('busy');
  });

  it('passes errors through that retryOn rejects', async () => {
    const { fn, calls } = failing(5);
    const policy = retry({ retryOn: (o) => 'error' in o && (o.error as Error).message !== 'flaky' });
    await expect(policy.execute(fn)).rejects.toThrow('flaky');
    expect(calls()).toBe(1);
  });

  it('does not repeat a call marked idempotent: false, nor an error with retryable: false', async () => {
    const clock = createFakeClock();
    const policy = retry({ clock });
    const a = failing(5);
    await expect(policy.execute(a.fn, { idempotent: false })).rejects.toThrow('flaky');
    expect(a.calls()).toBe(1);
    const b = failing(5, () => new BreakwaterError('BW_X', 'do not repeat', { retryable: false }));
    await expect(policy.execute(b.fn)).rejects.toThrow('do not repeat');
    expect(b.calls()).toBe(1);
  });

  it('waits at least retryAfterMs from an error or a value', async () => {
    const clock = createFakeClock();
    const { fn, calls } = failing(1, () => Object.assign(new Error('slow down'), { retryAfterMs: 5_000 }));
    const result = retry({ backoff: backoff.constant({ delayMs: 10 }), clock }).execute(fn);
    await clock.advance(4_999);
    expect(calls()).toBe(1);
    await clock.advance(1);
    await expect(result).resolves.toBe('ok after 2');

    let n = 0;
    const byValue = retry({
      backoff: backoff.constant({ delayMs: 10 }),
      clock,
      retryOn: (o) => 'value' in o && (o.value as { status: number }).status === 429,
    }).execute(() => (++n === 1 ? { status: 429, retryAfterMs: 300 } : { status: 200 }));
    await clock.advance(299);
    expect(n).toBe(1);
    await clock.advance(1);
    await expect(byValue).resolves.toEqual({ status: 200 });
  });

  it('gives up rather than come back early when retryAfterMs exceeds maxRetryAfterMs', async () => {
    const clock = createFakeClock();
    const { fn, calls } = failing(1, () =>
      Object.assign(new Error('come back tomorrow'), { retryAfterMs: 86_400_000 }),
    );
    const policy = retry({ clock, maxRetryAfterMs: 60_000 });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    await expect(policy.execute(fn)).rejects.toThrow('come back tomorrow');
    expect(calls()).toBe(1);
    expect(reasons).toEqual(['retry-after-too-long']);
  });

  it('starts no delay that would end past the deadline', async () => {
    const clock = createFakeClock({ now: 0 });
    const { fn, calls } = failing(5);
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 100 }), clock });
    const result = policy.execute(fn, { deadline: 250 }).catch((e: Error) => e.message);
    await clock.advance(200);
    expect(await result).toBe('flaky');
    // Attempts at 0, 100 and 200; the next delay would end at 300, past the deadline of 250.
    expect(calls()).toBe(3);
    expect(clock.now()).toBe(200);
  });

  it('ends a delay at once when the caller aborts, rejecting with the caller reason', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    const { fn, calls } = failing(5);
    const result = retry({ backoff: backoff.constant({ delayMs: 10_000 }), clock }).execute(fn, {
      signal: controller.signal,
    });
    await clock.advance(1);
    controller.abort('user left');
    await expect(result).rejects.toBe('user left');
    await clock.runAll();
    expect(calls()).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('does not retry the caller abort reason', async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = retry({ backoff: backoff.constant({ delayMs: 0 }) }).execute(
      (ctx) => {
        calls++;
        controller.abort(new Error('bye'));
        throw ctx.signal.reason;
      },
      { signal: controller.signal },
    );
    await expect(result).rejects.toThrow('bye');
    expect(calls).toBe(1);
  });

  it('emits onRetry with the attempt, delay and error', async () => {
    const clock = createFakeClock();
    const policy = retry({
      backoff: backoff.exponential({ initialMs: 10, jitter: 'none' }),
      clock,
      name: 'api',
    });
    const events: unknown[] = [];
    policy.onRetry((e) =>
      events.push({ attempt: e.attempt, delayMs: e.delayMs, message: (e.error as Error).message }),
    );
    const { fn } = failing(2);
    const result = policy.execute(fn);
    await clock.advance(30);
    await result;
    expect(events).toEqual([
      { attempt: 1, delayMs: 10, message: 'flaky' },
      { attempt: 2, delayMs: 20, message: 'flaky' },
    ]);
  });

  it('uses the injected random for jitter', async () => {
    const clock = createFakeClock();
    const delays: number[] = [];
    const policy = retry({ backoff: backoff.exponential({ initialMs: 100 }), clock, random: () => 0.5 });
    policy.onRetry((e) => delays.push(e.delayMs));
    const result = policy.execute(failing(2).fn);
    await clock.advance(1_000);
    await result;
    expect(delays).toEqual([50, 100]);
  });
});

describe('retry with the system clock', () => {
  it('keeps a script alive through a retry delay (a delay the caller awaits is not unref-ed)', () => {
    const entry = new URL('../index.ts', import.meta.url).href;
    const script = `
      const { retry, backoff } = await import(${JSON.stringify(entry)});
      let calls = 0;
      const value = await retry({ backoff: backoff.constant({ delayMs: 20 }) }).execute(() => {
        if (++calls < 3) throw new Error('flaky');
        return 'done after ' + calls;
      });
      console.log(value);
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(child.stderr).not.toMatch(/unsettled top-level await/i);
    expect(child.stdout.trim()).toBe('done after 3');
    expect(child.status).toBe(0);
  });
});

describe('nested retries', () => {
  it('count their attempts apart: an inner retry does not move the outer one', async () => {
    const inner = retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }), name: 'inner' });
    const outer = retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 0 }), name: 'outer' });
    const giveUps: string[] = [];
    inner.onGiveUp((e) => giveUps.push(`${e.name}:${e.attempts}`));
    outer.onGiveUp((e) => giveUps.push(`${e.name}:${e.attempts}`));
    let calls = 0;
    await expect(
      compose(outer, inner).execute(() => {
        calls++;
        throw new Error('always');
      }),
    ).rejects.toThrow('always');
    expect(calls).toBe(6);
    expect(giveUps).toEqual(['inner:2', 'inner:2', 'inner:2', 'outer:3']);
  });
});

describe('retry hardening', () => {
  it('starts no attempt after the caller aborted during a zero-delay value retry', async () => {
    const controller = new AbortController();
    let calls = 0;
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 0 }), retryOn: () => true });
    const call = policy.execute(
      () => {
        calls++;
        controller.abort();
        return 'busy';
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toBe(controller.signal.reason);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
  });

  it('starts no attempt after an onRetry listener aborted the caller', async () => {
    const controller = new AbortController();
    let calls = 0;
    const policy = retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 0 }) });
    policy.onRetry(() => controller.abort(new Error('enough')));
    const call = policy.execute(
      () => {
        calls++;
        throw new Error('flaky');
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toThrow('enough');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
  });

  it("gives up with reason 'not-retryable' for an error marked retryable: false", async () => {
    const policy = retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 0 }) });
    const reasons: string[] = [];
    policy.onGiveUp((e) => reasons.push(e.reason));
    await expect(
      policy.execute(() => {
        throw new BreakwaterError('BW_X', 'no', { retryable: false });
      }),
    ).rejects.toThrow('no');
    await expect(
      policy.execute(() => Promise.reject(new Error('post')), { idempotent: false }),
    ).rejects.toThrow('post');
    expect(reasons).toEqual(['not-retryable', 'not-idempotent']);
  });

  it('hands an exception thrown by retryOn to the caller instead of retrying on it', async () => {
    const bug = new Error('predicate bug');
    let calls = 0;
    const policy = retry({
      maxAttempts: 5,
      backoff: backoff.constant({ delayMs: 0 }),
      retryOn: (outcome) => {
        if ('value' in outcome && outcome.value === 'second') throw bug;
        return true;
      },
    });
    await expect(policy.execute(() => (++calls === 1 ? 'first' : 'second'))).rejects.toBe(bug);
    expect(calls).toBe(2);
  });

  it('refuses a null option instead of taking the default', () => {
    expect(() => retry({ maxAttempts: null as never })).toThrow(
      new TypeError('retry: option "maxAttempts" must be an integer >= 1 (or Infinity), got null'),
    );
    expect(() => retry({ backoff: null as never })).toThrow(/option "backoff"/);
  });

  it('accepts a custom backoff with any kind, or none', async () => {
    const clock = createFakeClock();
    const delays: number[] = [];
    const policy = retry({ maxAttempts: 3, backoff: { delayMs: (n) => n * 7 }, clock });
    policy.onRetry((e) => delays.push(e.delayMs));
    const result = policy.execute(failing(2).fn);
    await clock.advance(100);
    await expect(result).resolves.toBe('ok after 3');
    expect(delays).toEqual([7, 14]);
  });
});

describe("retry delays past setTimeout's 2^31 ms limit", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits as long as the delay says instead of firing after ~1 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const long = 2 ** 31 + 5_000;
    const { fn, calls } = failing(1);
    const result = retry({
      maxAttempts: 2,
      backoff: backoff.constant({ delayMs: long }),
    }).execute(fn);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(calls()).toBe(1);
    await vi.advanceTimersByTimeAsync(5_000);
    await expect(result).resolves.toBe('ok after 2');
  });
});
