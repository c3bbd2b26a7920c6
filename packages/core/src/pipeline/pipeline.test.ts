import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { EventEmitter, getEventListeners, once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { bulkhead } from '../bulkhead/bulkhead.js';
import { breakers } from '../circuit-breaker/breakers.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { TimeoutError } from '../errors/errors.js';
import { fallback } from '../fallback/fallback.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { timeout } from '../timeout/timeout.js';
import { compose } from './compose.js';
import type { PolicyContext } from './context.js';
import { createPolicy } from './create-policy.js';

function tracer(name: string, log: string[]) {
  return createPolicy({
    name,
    run: async (ctx, next) => {
      log.push(`${name}:in`);
      try {
        return await next(ctx);
      } finally {
        log.push(`${name}:out`);
      }
    },
  });
}

describe('execute', () => {
  it('runs sync and async functions and returns their value', async () => {
    const policy = compose();
    await expect(policy.execute(() => 42)).resolves.toBe(42);
    await expect(policy.execute(async () => 'a')).resolves.toBe('a');
  });

  it('turns a synchronous throw into a rejection', async () => {
    const policy = compose(tracer('a', []));
    const boom = new Error('boom');
    const result = policy.execute(() => {
      throw boom;
    });
    await expect(result).rejects.toBe(boom);
  });

  it('rejects with the reason of an already-aborted caller signal without calling fn', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    let called = false;
    await expect(
      compose(tracer('a', [])).execute(
        () => {
          called = true;
        },
        { signal: controller.signal },
      ),
    ).rejects.toBe(reason);
    expect(called).toBe(false);
  });

  it('rejects at once with the caller reason when the caller aborts mid-call, and aborts ctx.signal', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = compose(tracer('a', [])).execute(
      (ctx) => {
        seen = ctx.signal;
        return new Promise(() => {}); // never settles: the caller abort alone must end the call
      },
      { signal: controller.signal },
    );
    await Promise.resolve();
    controller.abort('stop');
    await expect(pending).rejects.toBe('stop');
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe('stop');
  });

  it('leaves no listener on a long-lived caller signal once calls settle', async () => {
    const controller = new AbortController();
    const policy = compose(
      timeout(1_000),
      retry({ maxAttempts: 2, backoff: backoff.constant({ delayMs: 0 }) }),
    );
    const calls = Array.from({ length: 50 }, (_, i) =>
      policy.execute((ctx) => (i % 2 === 0 ? Number(ctx.signal.aborted) : Promise.resolve(i)), {
        signal: controller.signal,
      }),
    );
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    let release!: (value: number) => void;
    const held = policy.execute(() => new Promise<number>((resolve) => (release = resolve)), {
      signal: controller.signal,
    });
    await Promise.all(calls);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1); // still shared by the held call
    release(1);
    await held;
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('fills the context from the options', async () => {
    let seen: PolicyContext | undefined;
    await compose(tracer('a', [])).execute(
      (ctx) => {
        seen = ctx;
      },
      {
        key: 'k',
        priority: 'critical',
        deadline: 123,
        idempotencyKey: 'id',
        fingerprint: 'fp',
        idempotent: false,
      },
    );
    expect(seen).toMatchObject({
      attempt: 1,
      key: 'k',
      priority: 'critical',
      deadline: 123,
      idempotencyKey: 'id',
      fingerprint: 'fp',
      idempotent: false,
      pipeline: 'pipeline',
    });
  });

  it('defaults priority to default and idempotent to true', async () => {
    let seen: PolicyContext | undefined;
    await tracer('a', []).execute((ctx) => {
      seen = ctx;
    });
    expect(seen?.priority).toBe('default');
    expect(seen?.idempotent).toBe(true);
    expect(seen?.deadline).toBeUndefined();
  });

  it('makes no AbortController for a call that never reads ctx.signal, and one for a call that does', async () => {
    const Original = globalThis.AbortController;
    let made = 0;
    globalThis.AbortController = class Counted extends Original {
      constructor() {
        super();
        made++;
      }
    };
    try {
      const policy = compose(
        timeout(1_000),
        retry({ maxAttempts: 2 }),
        circuitBreaker({ breaker: breakers.consecutive(5) }),
        bulkhead({ maxConcurrent: 4 }),
      );
      for (let i = 0; i < 10; i++) await policy.execute(() => i);
      expect(made).toBe(0);
      await policy.execute((ctx) => ctx.signal.aborted && ctx.signal.aborted);
      expect(made).toBe(1);
    } finally {
      globalThis.AbortController = Original;
    }
  });

  it('hands fn the caller signal itself when nothing else can abort the call', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    await tracer('a', []).execute(
      (ctx) => {
        seen = ctx.signal;
      },
      { signal: controller.signal },
    );
    expect(seen).toBe(controller.signal);
  });
});

describe('wrap', () => {
  it('passes the arguments through and the context last', async () => {
    const policy = compose(tracer('a', []));
    const add = policy.wrap((a: number, b: number, ctx: PolicyContext) => a + b + ctx.attempt);
    await expect(add(1, 2)).resolves.toBe(4);
  });

  it('rejects a non-function', () => {
    expect(() => compose().wrap(5 as never)).toThrow(TypeError);
  });
});

describe('compose', () => {
  it('runs policies outermost first', async () => {
    const log: string[] = [];
    await compose(tracer('a', log), tracer('b', log), tracer('c', log)).execute(() => log.push('fn'));
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'fn', 'c:out', 'b:out', 'a:out']);
  });

  it('flattens nested pipelines and keeps the outer name', async () => {
    const log: string[] = [];
    let pipeline: string | undefined;
    const inner = compose({ name: 'inner' }, tracer('b', log), tracer('c', log));
    await compose({ name: 'outer' }, tracer('a', log), inner).execute((ctx) => {
      pipeline = ctx.pipeline;
    });
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'c:out', 'b:out', 'a:out']);
    expect(pipeline).toBe('outer');
  });

  it('reports an inner timeout longer than the outer one', () => {
    expect(() =>
      compose(timeout(1_000, { name: 'total' }), retry(), timeout(5_000, { name: 'attempt' })),
    ).toThrow(
      /timeout "attempt" \(5000 ms, position 3\) is longer than the timeout "total" \(1000 ms, position 1\)/,
    );
    expect(() => compose(timeout(5_000), retry(), timeout(1_000))).not.toThrow();
  });

  it('rejects arguments that are not policies', () => {
    expect(() => compose(timeout(10), {} as never)).toThrow(/argument 2 is not a policy/);
    expect(() => compose({ name: 5 } as never)).toThrow(/option "name" must be a non-empty string, got 5/);
  });
});

describe('createPolicy', () => {
  it('validates its options', () => {
    expect(() => createPolicy({ name: '', run: async () => 1 })).toThrow(/createPolicy: option "name"/);
    expect(() => createPolicy({ name: 'x', run: 'no' as never })).toThrow(/createPolicy: option "run"/);
  });

  it('turns a custom run that throws synchronously into a rejection', async () => {
    const policy = createPolicy({
      name: 'bad',
      run: () => {
        throw new Error('sync');
      },
    });
    await expect(policy.execute(() => 1)).rejects.toThrow('sync');
  });
});

describe('events', () => {
  it('calls onSuccess and onFailure listeners until disposed', async () => {
    const clock = createFakeClock({ now: 1_000 });
    const policy = compose({ name: 'checkout' }, timeout(500, { clock }));
    const seen: string[] = [];
    const success = policy.onSuccess((e) => seen.push(`${e.event}:${e.name}:${e.pipeline}`));
    const failure = policy.onFailure((e) => seen.push(`${e.event}:${(e.error as Error).message}`));
    await policy.execute(() => 1);
    await policy.execute(() => Promise.reject(new Error('nope'))).catch(() => {});
    success.dispose();
    failure[Symbol.dispose]();
    await policy.execute(() => 1);
    expect(seen).toEqual(['success:checkout:checkout', 'failure:nope']);
  });

  it("fires a policy's own onSuccess/onFailure inside a pipeline, and the pipeline's at its edge", async () => {
    const inner = retry({ maxAttempts: 1, name: 'inner' });
    const pipeline = compose({ name: 'outer' }, tracer('a', []), inner);
    const seen: string[] = [];
    inner.onSuccess((e) => seen.push(`${e.name}:success:${e.pipeline}`));
    inner.onFailure((e) => seen.push(`${e.name}:failure:${e.pipeline}`));
    pipeline.onSuccess((e) => seen.push(`${e.name}:success`));
    pipeline.onFailure((e) => seen.push(`${e.name}:failure`));
    await pipeline.execute(() => 1);
    await pipeline.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(seen).toEqual(['inner:success:outer', 'outer:success', 'inner:failure:outer', 'outer:failure']);
  });

  it('publishes on the diagnostics channels breakwater:<kind> and breakwater:<kind>:<event>', async () => {
    const clock = createFakeClock();
    const policy = retry({
      maxAttempts: 2,
      backoff: backoff.constant({ delayMs: 10 }),
      clock,
      name: 'flaky',
    });
    const byKind: unknown[] = [];
    const byEvent: unknown[] = [];
    const onKind = (message: unknown) => byKind.push(message);
    const onEvent = (message: unknown) => byEvent.push(message);
    subscribe('breakwater:retry', onKind);
    subscribe('breakwater:retry:retry', onEvent);
    try {
      let calls = 0;
      const pending = policy.execute(() => {
        calls++;
        if (calls === 1) throw new Error('once');
        return 'ok';
      });
      await clock.advance(10);
      await expect(pending).resolves.toBe('ok');
    } finally {
      unsubscribe('breakwater:retry', onKind);
      unsubscribe('breakwater:retry:retry', onEvent);
    }
    expect(byEvent).toEqual([
      expect.objectContaining({ event: 'retry', name: 'flaky', attempt: 1, delayMs: 10 }),
    ]);
    expect(byKind).toEqual([
      expect.objectContaining({ event: 'retry', name: 'flaky' }),
      expect.objectContaining({ event: 'success', name: 'flaky' }),
    ]);
  });

  it('keeps calling the policy when a listener throws', async () => {
    const policy = compose(tracer('a', []));
    policy.onSuccess(() => {
      throw new Error('listener bug');
    });
    // Caught here rather than printed: a warning in the suite's output reads as a failure.
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      await expect(policy.execute(() => 7)).resolves.toBe(7);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('listener bug'), {
        code: 'BREAKWATER_LISTENER_ERROR',
      });
    } finally {
      warn.mockRestore();
    }
  });
});

describe("the caller's abort is the outcome, whatever fn throws", () => {
  const apis = {
    'timers/promises delay': (signal: AbortSignal) => delay(60_000, null, { signal }),
    'events.once': (signal: AbortSignal) => once(new EventEmitter(), 'never', { signal }),
  };
  for (const [api, wait] of Object.entries(apis)) {
    it(`does not open the circuit when fn rejects with its own AbortError (${api})`, async () => {
      const breaker = circuitBreaker({ breaker: breakers.consecutive(2) });
      for (let i = 0; i < 2; i++) {
        const controller = new AbortController();
        const call = breaker.execute(({ signal }) => wait(signal), { signal: controller.signal });
        await Promise.resolve();
        controller.abort();
        await expect(call).rejects.toBe(controller.signal.reason);
      }
      expect(breaker.state).toBe('closed');
    });

    it(`neither retries, falls back nor reports a failure for it (${api})`, async () => {
      let calls = 0;
      const retrying = retry({ maxAttempts: 3, backoff: backoff.constant({ delayMs: 0 }) });
      const policy = compose(fallback('fallback value'), retrying);
      const failures: unknown[] = [];
      policy.onFailure((e) => failures.push(e.error));
      retrying.onFailure((e) => failures.push(e.error));
      const controller = new AbortController();
      const call = policy.execute(
        ({ signal }) => {
          calls++;
          return wait(signal);
        },
        { signal: controller.signal },
      );
      await Promise.resolve();
      controller.abort(new Error('caller left'));
      await expect(call).rejects.toThrow('caller left');
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(1);
      expect(failures).toEqual([]);
    });
  }

  it("sees an abort made during fn's synchronous first step", async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const call = compose(retry(), timeout(60_000)).execute(
      (ctx) => {
        seen = ctx.signal;
        controller.abort(new Error('gone'));
        return new Promise(() => {});
      },
      { signal: controller.signal },
    );
    await expect(call).rejects.toThrow('gone');
    expect(seen?.aborted).toBe(true);
    // Without a policy around: the same.
    const bare = new AbortController();
    await expect(
      retry().execute(
        () => {
          bare.abort(new Error('gone too'));
          return new Promise(() => {});
        },
        { signal: bare.signal },
      ),
    ).rejects.toThrow('gone too');
  });
});

describe('nested pipelines', () => {
  it('fire their own listeners when composed into an outer pipeline', async () => {
    const inner = compose({ name: 'inner' }, retry({ maxAttempts: 1 }));
    const outer = compose({ name: 'outer' }, timeout(1_000), inner);
    const seen: string[] = [];
    inner.onSuccess((e) => seen.push(`inner ok in ${e.pipeline}`));
    inner.onFailure(() => seen.push('inner failed'));
    outer.onSuccess(() => seen.push('outer ok'));
    await outer.execute(() => 1);
    await outer.execute(() => Promise.reject(new Error('x'))).catch(() => {});
    expect(seen).toEqual(['inner ok in outer', 'outer ok', 'inner failed']);
    // And once more when the outer one is itself nested.
    const outermost = compose(outer);
    await outermost.execute(() => 2);
    expect(seen.slice(3)).toEqual(['inner ok in pipeline', 'outer ok']);
  });
});

describe('custom policies changing per-call fields', () => {
  it('may pass next a copy of the context with changes; a timeout inside still works', async () => {
    const clock = createFakeClock();
    const keyed = createPolicy({ name: 'keyed', run: (ctx, next) => next({ ...ctx, key: `k:${ctx.key}` }) });
    const seen: Array<string | undefined> = [];
    const policy = compose(keyed, timeout(100, { clock }));
    await expect(
      policy.execute(
        (ctx) => {
          seen.push(ctx.key);
          return 'ok';
        },
        { key: 'a' },
      ),
    ).resolves.toBe('ok');
    expect(seen).toEqual(['k:a']);
    // The changed context still carries the call's cancellation.
    const result = policy.execute((ctx) => untilAbortedCtx(ctx)).catch((e: unknown) => e);
    await clock.advance(100);
    expect(await result).toBeInstanceOf(TimeoutError);
  });

  it('can only bring a deadline earlier, and can pass just the changes', async () => {
    const seen: Array<number | undefined> = [];
    const later = createPolicy({ name: 'later', run: (_ctx, next) => next({ deadline: 5_000 }) });
    const earlier = createPolicy({ name: 'earlier', run: (_ctx, next) => next({ deadline: 500 }) });
    const fn = (ctx: PolicyContext) => seen.push(ctx.deadline);
    await compose(later).execute(fn, { deadline: 1_000 });
    await compose(earlier).execute(fn, { deadline: 1_000 });
    expect(seen).toEqual([1_000, 500]);
  });
});

describe('validation', () => {
  it('refuses unknown compose and createPolicy options', () => {
    expect(() => compose({ nme: 'x' } as never)).toThrow(/compose: unknown option "nme"/);
    expect(() => createPolicy({ name: 'a', run: () => Promise.resolve(1), knd: 'x' } as never)).toThrow(
      /createPolicy: unknown option "knd"/,
    );
  });

  it('rejects bad per-call options, naming them', async () => {
    const policy = retry();
    await expect(policy.execute(123 as never)).rejects.toThrow(
      new TypeError('retry.execute: fn must be a function, got 123'),
    );
    await expect(policy.execute(() => 1, { signal: {} as never })).rejects.toThrow(
      /retry.execute: option "signal" must be an AbortSignal, got an object/,
    );
    await expect(policy.execute(() => 1, { deadline: 'soon' as never })).rejects.toThrow(TypeError);
    await expect(policy.execute(() => 1, { deadline: Number.NaN })).rejects.toThrow(RangeError);
    await expect(policy.execute(() => 1, { priority: 'urgent' as never })).rejects.toThrow(
      /option "priority" must be one of 'critical', 'default', 'sheddable', got "urgent"/,
    );
    await expect(policy.execute(() => 1, { key: 5 as never })).rejects.toThrow(/"key" must be a string/);
    await expect(policy.execute(() => 1, { idempotent: 'no' as never })).rejects.toThrow(/a boolean/);
    await expect(policy.execute(() => 1, null as never)).rejects.toThrow(/"options" must be an object/);
    await expect(policy.execute(() => 1, new AbortController().signal as never)).rejects.toThrow(
      'retry.execute: options must be an object; pass the signal as { signal }',
    );
  });
});

describe('compose clock', () => {
  it("times the pipeline's events with the clock it is given", async () => {
    const clock = createFakeClock();
    const policy = compose({ name: 'timed', clock }, retry({ clock }));
    const durations: number[] = [];
    policy.onSuccess((e) => durations.push(e.durationMs));
    const result = policy.execute(async () => {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 250));
      return 1;
    });
    await clock.advance(250);
    await result;
    expect(durations).toEqual([250]);
  });

  it('refuses a clock that is not one', () => {
    expect(() => compose({ clock: {} as never })).toThrow(
      /compose: option "clock" must be an object with now/,
    );
  });
});

function untilAbortedCtx(ctx: PolicyContext): Promise<never> {
  return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
}
