import { describe, expect, it } from 'vitest';
import { ChaosError, isBreakwaterError } from '../errors/errors.js';
import { compose } from '../pipeline/compose.js';
import { retry } from '../retry/retry.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { chaos } from './chaos.js';

/** A random that returns the given numbers in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('chaos.fault', () => {
  it('rejects the share of calls the rate picks, without running fn', async () => {
    const policy = chaos.fault({ rate: 0.5, random: sequence(0.2, 0.7) });
    let calls = 0;
    const fn = () => ++calls;
    const first = await policy.execute(fn).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ChaosError);
    expect(isBreakwaterError(first) && first.code).toBe('BW_CHAOS');
    await expect(policy.execute(fn)).resolves.toBe(1);
    expect(calls).toBe(1);
  });

  it('throws the error it is given, or the one a function makes from the context', async () => {
    const boom = new Error('injected');
    await expect(chaos.fault({ rate: 1, error: boom }).execute(() => 1)).rejects.toBe(boom);
    await expect(
      chaos
        .fault({ rate: 1, error: (ctx: { key?: string }) => new Error(`for ${ctx.key}`) })
        .execute(() => 1, { key: 'k' }),
    ).rejects.toThrow('for k');
  });

  it('is retried like any failure, and reports each injection', async () => {
    const policy = chaos.fault({ rate: 0.5, random: sequence(0.1, 0.9) });
    const injected: string[] = [];
    policy.onInject((e) => injected.push(e.injection));
    await expect(compose(retry({ maxAttempts: 2 }), policy).execute(() => 'ok')).resolves.toBe('ok');
    expect(injected).toEqual(['fault']);
  });
});

describe('chaos.latency', () => {
  it('delays the picked calls on the clock, then runs fn', async () => {
    const clock = createFakeClock();
    const policy = chaos.latency({ rate: 1, delayMs: 250, clock });
    let ran = false;
    const result = policy.execute(() => {
      ran = true;
      return 'late';
    });
    await clock.advance(249);
    expect(ran).toBe(false);
    await clock.advance(1);
    await expect(result).resolves.toBe('late');
  });

  it('ends the wait when the caller aborts', async () => {
    const clock = createFakeClock();
    const controller = new AbortController();
    const result = chaos
      .latency({ rate: 1, delayMs: 10_000, clock })
      .execute(() => 'never', { signal: controller.signal });
    controller.abort(new Error('gone'));
    await expect(result).rejects.toThrow('gone');
    expect(clock.pending).toBe(0);
  });
});

describe('chaos.outcome', () => {
  it('answers the picked calls with the value, typed into the result', async () => {
    const policy = chaos.outcome({ rate: 1, value: 'cached' as const });
    let ran = false;
    const value: number | 'cached' = await policy.execute(() => {
      ran = true;
      return 1;
    });
    expect(value).toBe('cached');
    expect(ran).toBe(false);
  });
});

describe('chaos switches', () => {
  it('injects nothing when disabled, and asks an enabled function on every call', async () => {
    let on = false;
    const policy = chaos.fault({ rate: 1, enabled: () => on });
    await expect(policy.execute(() => 'through')).resolves.toBe('through');
    on = true;
    await expect(policy.execute(() => 'through')).rejects.toBeInstanceOf(ChaosError);
    await expect(chaos.fault({ rate: 1, enabled: false }).execute(() => 'off')).resolves.toBe('off');
    await expect(chaos.fault({ rate: 0 }).execute(() => 'never picked')).resolves.toBe('never picked');
  });

  it('validates its options, naming them', () => {
    expect(() => chaos.fault({ rate: 1.5 })).toThrow(
      /chaos.fault: option "rate" must be a number in \[0, 1\], got 1.5/,
    );
    expect(() => chaos.fault({} as never)).toThrow(/option "rate"/);
    expect(() => chaos.latency({ rate: 1, delayMs: -1 })).toThrow(/chaos.latency: option "delayMs"/);
    expect(() => chaos.outcome({ rate: 1 } as never)).toThrow(/chaos.outcome: option "value"/);
    expect(() => chaos.fault({ rate: 1, enabled: 'yes' as never })).toThrow(/option "enabled"/);
    expect(() => chaos.fault({ rate: 1, enabled: null as never })).toThrow(/option "enabled"/);
    expect(() => chaos.fault({ rate: 1, rat: 1 } as never)).toThrow(/unknown option "rat"/);
  });
});

describe('a chaos policy switched off for good', () => {
  it('drops out of a pipeline altogether', async () => {
    const off = chaos.fault({ rate: 1, enabled: false });
    const seen: string[] = [];
    off.onSuccess(() => seen.push('off ran'));
    const pipeline = compose(retry({ maxAttempts: 1 }), off);
    await expect(pipeline.execute(() => 'through')).resolves.toBe('through');
    expect(seen).toEqual([]); // not a layer of the pipeline: nothing of it runs
    await expect(off.execute(() => 'alone')).resolves.toBe('alone');
    expect(seen).toEqual(['off ran']);
  });
});
