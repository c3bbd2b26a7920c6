import { describe, expect, it } from 'vitest';
import { breakers } from '../circuit-breaker/breakers.js';
import { BulkheadFullError, TimeoutError } from '../errors/errors.js';
import { backoff } from '../retry/backoff.js';
import { createFakeClock } from '../testing/fake-clock.js';
import { HTTP_PRESET_DEFAULTS, presets } from './presets.js';

describe('presets.http', () => {
  it("has the standard handler's shape: bulkhead → total timeout → retry → breaker → attempt timeout", () => {
    const preset = presets.http();
    const { parts } = preset;
    expect(preset.name).toBe('http');
    expect(parts.bulkhead?.name).toBe('http.bulkhead');
    expect(parts.totalTimeout?.timeoutMs).toBe(30_000);
    expect(parts.attemptTimeout?.timeoutMs).toBe(10_000);
    expect(parts.retry?.name).toBe('http.retry');
    expect(parts.circuitBreaker?.state).toBe('closed');
    expect(HTTP_PRESET_DEFAULTS.circuitBreaker.breaker.windowMs).toBe(30_000);
    expect(HTTP_PRESET_DEFAULTS.retry.maxAttempts).toBe(3);
  });

  it('retries a failing call with its attempts cut by the attempt timeout, within the total', async () => {
    const clock = createFakeClock();
    const preset = presets.http({
      totalTimeout: { ms: 1_000, clock },
      attemptTimeout: { ms: 100, clock },
      retry: { backoff: backoff.constant({ delayMs: 10 }), clock },
      circuitBreaker: { clock, breaker: breakers.time({ windowMs: 1_000, minCalls: 100 }) },
    });
    let calls = 0;
    const result = preset.execute(
      (ctx) =>
        new Promise((resolve, reject) => {
          calls++;
          if (calls === 3) resolve('third time');
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    );
    await clock.advance(100); // attempt 1 times out
    await clock.advance(10);
    await clock.advance(100); // attempt 2 times out
    await clock.advance(10);
    await expect(result).resolves.toBe('third time');
    expect(calls).toBe(3);
  });

  it('takes overrides per part and leaves out a part set to false', async () => {
    const preset = presets.http({ name: 'orders', bulkhead: { maxConcurrent: 1 }, retry: false });
    expect(preset.parts.retry).toBeUndefined();
    expect(preset.parts.bulkhead?.name).toBe('orders.bulkhead');
    let finish!: () => void;
    const first = preset.execute(() => new Promise<void>((resolve) => (finish = resolve)));
    await expect(preset.execute(() => 'second')).rejects.toBeInstanceOf(BulkheadFullError);
    finish();
    await first;
    const bare = presets.http({
      bulkhead: false,
      totalTimeout: false,
      circuitBreaker: false,
      attemptTimeout: false,
    });
    await expect(bare.execute(() => 'through')).resolves.toBe('through');
  });

  it('reports contradictions naming both parts', () => {
    expect(() => presets.http({ totalTimeout: 5_000, attemptTimeout: 5_000 })).toThrow(
      new RangeError(
        'presets.http: attemptTimeout (5000 ms) must be shorter than totalTimeout (5000 ms), or no attempt could ever be retried',
      ),
    );
    expect(() =>
      presets.http({
        circuitBreaker: { breaker: breakers.time({ windowMs: 15_000 }) },
        attemptTimeout: 10_000,
      }),
    ).toThrow(/the circuitBreaker window \(15000 ms\) must be at least twice attemptTimeout \(10000 ms\)/);
  });

  it('refuses bad overrides, naming the part', () => {
    expect(() => presets.http({ retries: 3 } as never)).toThrow(/presets.http: unknown option "retries"/);
    expect(() => presets.http({ retry: 3 as never })).toThrow(/presets.http: option "retry" must be options/);
    expect(() => presets.http({ retry: { maxAttempts: 0 } })).toThrow(/retry: option "maxAttempts"/);
    expect(() => presets.http({ totalTimeout: {} as never })).toThrow(/option "totalTimeout.ms"/);
    expect(() => presets.http({ attemptTimeout: -1 })).toThrow(/timeout: option "ms"/);
  });

  it('times out at the total even when every attempt is retried', async () => {
    const clock = createFakeClock();
    const preset = presets.http({
      totalTimeout: { ms: 250, clock },
      attemptTimeout: { ms: 100, clock },
      retry: { maxAttempts: 10, backoff: backoff.constant({ delayMs: 0 }), clock },
      circuitBreaker: false,
    });
    const result = preset
      .execute(
        (ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      )
      .catch((e: unknown) => e);
    await clock.advance(250);
    const error = (await result) as TimeoutError;
    expect(error).toBeInstanceOf(TimeoutError);
  });
});
