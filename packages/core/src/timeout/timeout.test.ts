import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isBreakwaterError, isRejectedError, TimeoutError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import type { PolicyContext } from '../pipeline/context.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { timeout } from './timeout.js';

/** fn that settles only when its signal aborts, then rejects with the reason (as fetch does). */
function untilAborted(ctx: PolicyContext): Promise<never> {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
}

describe('timeout options', () => {
  it('requires a positive finite ms', () => {
    expect(() => timeout(0)).toThrow(
      new RangeError('timeout: option "ms" must be a positive finite number, got 0'),
    );
    expect(() => timeout(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => timeout('5' as never)).toThrow(TypeError);
    expect(() => timeout(10, { mode: 'rude' as never })).toThrow(
      /timeout: option "mode" must be one of 'cooperative', 'aggressive', got "rude"/,
    );
    expect(() => timeout(10, { modes: 'x' } as never)).toThrow(/unknown option "modes"/);
  });
});

describe('cooperative timeout', () => {
  it('aborts ctx.signal with a TimeoutError at expiry and rejects with it after fn settles', async () => {
    const clock = createFakeClock();
    const policy = timeout(100, { clock });
    let reason: unknown;
    const result = policy.execute(async (ctx) => {
      try {
        return await untilAborted(ctx);
      } catch (error) {
        reason = error;
        return 'fn swallowed the abort';
      }
    });
    const settled = result.catch((e: unknown) => e);
    await clock.advance(99);
    expect(reason).toBeUndefined();
    await clock.advance(1);
    const error = await settled;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toBe(reason);
    expect(isBreakwaterError(error) && isRejectedError(error) && error.code === 'BW_TIMEOUT').toBe(true);
  });

  it('waits for fn to settle before rejecting', async () => {
    const clock = createFakeClock();
    let finish!: () => void;
    let settled = false;
    const result = timeout(50, { clock })
      .execute(() => new Promise<void>((resolve) => (finish = resolve)))
      .catch((e: unknown) => e)
      .finally(() => {
        settled = true;
      });
    await clock.advance(500);
    expect(settled).toBe(false);
    finish();
    expect(await result).toBeInstanceOf(TimeoutError);
  });

  it('passes the value through when fn finishes in time and leaves no timer behind', async () => {
    const clock = createFakeClock();
    const policy = timeout(100, { clock });
    await expect(policy.execute(() => 'fast')).resolves.toBe('fast');
    await clock.advance(100);
    await clock.runAll();
    expect(clock.pending).toBe(0);
  });

  it('passes fn errors through unchanged', async () => {
    const clock = createFakeClock();
    const boom = new Error('boom');
    await expect(timeout(100, { clock }).execute(() => Promise.reject(boom))).rejects.toBe(boom);
  });

  it('times out many concurrent calls in order, each at its own expiry', async () => {
    const clock = createFakeClock();
    const policy = timeout(100, { clock });
    const outcomes: string[] = [];
    const a = policy.execute(untilAborted).catch(() => outcomes.push(`a@${clock.now()}`));
    await clock.advance(30);
    const b = policy.execute(untilAborted).catch(() => outcomes.push(`b@${clock.now()}`));
    const fast = policy.execute(() => 'fast');
    await clock.advance(70);
    expect(outcomes).toEqual(['a@100']);
    await clock.advance(30);
    await Promise.all([a, b]);
    expect(outcomes).toEqual(['a@100', 'b@130']);
    await expect(fast).resolves.toBe('fast');
  });

  it('keeps one clock timer for any number of calls in flight', async () => {
    const clock = createFakeClock();
    const policy = timeout(100, { clock });
    const calls = Array.from({ length: 100 }, () => policy.execute(untilAborted).catch((e: unknown) => e));
    expect(clock.pending).toBe(1);
    await clock.advance(100);
    const errors = await Promise.all(calls);
    expect(errors.every((e) => e instanceof TimeoutError)).toBe(true);
    expect(clock.pending).toBe(0);
  });

  it('uses the earlier of its own expiry and the caller deadline', async () => {
    const clock = createFakeClock({ now: 1_000 });
    const policy = timeout(1_000, { clock });
    let deadline: number | undefined;
    const result = policy
      .execute(
        (ctx) => {
          deadline = ctx.deadline;
          return untilAborted(ctx);
        },
        { deadline: 1_200 },
      )
      .catch((e: unknown) => e);
    expect(deadline).toBe(1_200);
    await clock.advance(199);
    await clock.advance(1);
    const error = await result;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).timeoutMs).toBe(200);
  });

  it('rejects without calling fn when the deadline has already passed', async () => {
    const clock = createFakeClock({ now: 5_000 });
    let called = false;
    await expect(
      timeout(100, { clock }).execute(
        () => {
          called = true;
        },
        { deadline: 4_000 },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(called).toBe(false);
  });

  it('never lets an inner timeout extend the outer deadline', async () => {
    const clock = createFakeClock();
    const deadlines: Array<number | undefined> = [];
    await compose(timeout(100, { clock }), timeout(80, { clock })).execute((ctx) => {
      deadlines.push(ctx.deadline);
    });
    await compose(timeout(100, { clock }), timeout(100, { clock })).execute((ctx) => {
      deadlines.push(ctx.deadline);
    });
    expect(deadlines).toEqual([80, 100]);
  });

  /** compose(outer timeout, retry every 20 ms, inner 40 ms timeout) around a call that waits for its abort. */
  function outerRetryInner(outerMs: number) {
    const clock = createFakeClock();
    const result = compose(
      timeout(outerMs, { clock, name: 'outer' }),
      retry({ maxAttempts: 5, backoff: backoff.constant({ delayMs: 20 }), clock }),
      timeout(40, { clock, name: 'inner' }),
    )
      .execute(untilAborted)
      .catch((e: unknown) => e);
    return { clock, result };
  }

  it('aborts an attempt running under an inner timeout when the outer one fires first', async () => {
    const { clock, result } = outerRetryInner(70);
    await clock.advance(40); // inner fires; retry waits 20 ms (60 < the outer deadline of 70)
    await clock.advance(30); // attempt 2 runs from 60; the outer timeout fires at 70
    const error = (await result) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.policy).toBe('outer');
  });

  it('surfaces the inner TimeoutError when retry cannot fit another delay before the outer deadline', async () => {
    const { clock, result } = outerRetryInner(50);
    await clock.advance(40);
    const error = (await result) as TimeoutError;
    expect(error.policy).toBe('inner');
    expect(clock.now()).toBe(40);
  });

  it('emits onTimeout', async () => {
    const clock = createFakeClock();
    const policy = timeout(10, { clock, name: 'db' });
    const events: unknown[] = [];
    policy.onTimeout((e) => events.push(e));
    const result = policy.execute(untilAborted).catch(() => {});
    await clock.advance(10);
    await result;
    expect(events).toEqual([{ event: 'timeout', name: 'db', pipeline: undefined, timeoutMs: 10 }]);
  });

  it('lets a caller abort win over the timeout', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    const result = timeout(100, { clock }).execute(untilAborted, { signal: controller.signal });
    controller.abort('mine');
    await expect(result).rejects.toBe('mine');
  });
});

describe('aggressive timeout', () => {
  it('rejects at expiry without waiting for fn', async () => {
    const clock = createFakeClock();
    let aborted = false;
    const result = timeout(100, { clock, mode: 'aggressive' })
      .execute(
        (ctx) =>
          new Promise(() => {
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
            });
          }),
      )
      .catch((e: unknown) => e);
    await clock.advance(100);
    expect(await result).toBeInstanceOf(TimeoutError);
    expect(aborted).toBe(true);
  });

  it('rejects at a deadline that comes first', async () => {
    const clock = createFakeClock();
    const result = timeout(100, { clock, mode: 'aggressive' })
      .execute(() => new Promise(() => {}), { deadline: 30 })
      .catch((e: unknown) => e);
    await clock.advance(30);
    expect(await result).toBeInstanceOf(TimeoutError);
  });

  it('resolves when fn is fast', async () => {
    const clock = createFakeClock();
    await expect(timeout(100, { clock, mode: 'aggressive' }).execute(async () => 3)).resolves.toBe(3);
  });
});

/** Timers that keep the process alive right now. */
const refedTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** A clock on real Node timers that keeps the handles it made, to ask them whether they are ref'd. */
function realTimers() {
  const handles: NodeJS.Timeout[] = [];
  const clock = {
    now: Date.now,
    setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
      const handle = setTimeout(fn, ms);
      handles.push(handle);
      return handle;
    },
    clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
  };
  return { clock, handles };
}

/** Spins the CPU, as a long synchronous stretch of a real program would. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {}
}

describe('timeout hardening', () => {
  it('measures expiry from the call start after the event loop was busy (no stale cached clock)', async () => {
    const policy = timeout(1_000);
    const first = policy.execute(() => 'first'); // reads the clock in this turn
    busy(30);
    const started = Date.now();
    let deadline: number | undefined;
    await policy.execute((ctx) => {
      deadline = ctx.deadline;
    });
    await first;
    // The old per-turn cache gave the second call the first call's start: an expiry 30 ms early.
    expect(deadline).toBeGreaterThanOrEqual(started + 1_000);
  });

  it('keeps a pending call alive on a ref-ed timer and lets go of it once nothing waits', async () => {
    const { clock, handles } = realTimers();
    const policy = timeout(60_000, { clock });
    let finish!: () => void;
    const pending = policy.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    expect(handles.map((h) => h.hasRef())).toEqual([true]);
    finish();
    await pending;
    // The shared timer stays armed (no clearTimeout per call), and by the end of the turn it no
    // longer holds the process open.
    await new Promise((resolve) => setImmediate(resolve));
    expect(handles.map((h) => h.hasRef())).toEqual([false]);
    // The next call makes it hold the process again, without a new timer.
    const again = policy.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    expect(handles.map((h) => h.hasRef())).toEqual([true]);
    finish();
    await again;
    clock.clearTimeout(handles[0]);
  });

  it('keeps a call timed by its own deadline timer alive, and clears that timer when it settles', async () => {
    const base = refedTimers();
    const policy = timeout(60_000);
    let finish!: () => void;
    const pending = policy.execute(() => new Promise<void>((resolve) => (finish = resolve)), {
      deadline: Date.now() + 30_000,
    });
    expect(refedTimers()).toBe(base + 1);
    finish();
    await pending;
    expect(refedTimers()).toBe(base);
  });

  it('settles a script awaiting a timed-out call instead of letting the process exit (exit 13)', () => {
    const entry = new URL('../index.ts', import.meta.url).href;
    const script = `
      const { once, EventEmitter } = await import('node:events');
      const { timeout } = await import(${JSON.stringify(entry)});
      try {
        await timeout(50).execute(({ signal }) => once(new EventEmitter(), 'ready', { signal }));
        console.log('resolved');
      } catch (error) {
        console.log('caught ' + error.code);
      }
    `;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(child.stdout.trim()).toBe('caught BW_TIMEOUT');
    expect(child.status).toBe(0);
  });

  it('says that the deadline had passed, not "timed out after 0 ms"', async () => {
    const clock = createFakeClock({ now: 1_000 });
    const error = await timeout(100, { clock })
      .execute(() => 'never', { deadline: 900 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).fromDeadline).toBe(true);
    expect((error as Error).message).toBe('The deadline of the call had already passed when it started');
  });

  it('names a deadline that cut the call short in the error', async () => {
    const clock = createFakeClock();
    const result = timeout(100, { clock })
      .execute(untilAborted, { deadline: 40 })
      .catch((e: unknown) => e);
    await clock.advance(40);
    const error = (await result) as TimeoutError;
    expect(error.fromDeadline).toBe(true);
    expect(error.timeoutMs).toBe(40);
    expect(error.message).toBe('Operation timed out after 40 ms, at the deadline of the call');
  });
});

describe("timeout with delays past setTimeout's 2^31 ms limit", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits out a far deadline instead of firing after ~1 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const far = 2 ** 31 + 10_000;
    const policy = timeout(2 ** 32, {});
    let aborted = false;
    const result = policy
      .execute(
        (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
              reject(ctx.signal.reason);
            }),
          ),
        { deadline: Date.now() + far },
      )
      .catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(2 ** 31);
    expect(aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(aborted).toBe(true);
    expect(await result).toBeInstanceOf(TimeoutError);
  });
});
