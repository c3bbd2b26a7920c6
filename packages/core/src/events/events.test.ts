import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { breakers } from '../circuit-breaker/breakers.js';
import { circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { backoff } from '../retry/backoff.js';
import { retry } from '../retry/retry.js';
import { nextEvent } from './events.js';

describe('nextEvent', () => {
  it('resolves with the next event and stops listening', async () => {
    const cb = circuitBreaker({ breaker: breakers.consecutive(1) });
    const opened = nextEvent(cb.onBreak);
    await cb.execute(() => Promise.reject(new Error('down'))).catch(() => {});
    await expect(opened).resolves.toMatchObject({ to: 'open', reason: 'failures' });
  });

  it('waits for an event the filter accepts', async () => {
    const policy = retry({ maxAttempts: 4, backoff: backoff.constant({ delayMs: 0 }) });
    const third = nextEvent(policy.onRetry, { filter: (e) => e.attempt === 3 });
    let calls = 0;
    await policy
      .execute(() => {
        calls++;
        throw new Error(`failure ${calls}`);
      })
      .catch(() => {});
    expect((await third).error).toEqual(new Error('failure 3'));
  });

  it('rejects with the reason when its signal aborts, and removes its listener', async () => {
    const policy = retry();
    const controller = new AbortController();
    const waiting = nextEvent(policy.onRetry, { signal: controller.signal });
    controller.abort(new Error('no longer waiting'));
    await expect(waiting).rejects.toThrow('no longer waiting');
    await expect(nextEvent(policy.onRetry, { signal: controller.signal })).rejects.toThrow(
      'no longer waiting',
    );
    await expect(nextEvent(5 as never)).rejects.toThrow(/expected an event method/);
  });
});

describe('gauges', () => {
  it("live as long as a pipeline that holds the policy's layer, after the policy object is dropped", () => {
    const entry = new URL('../index.ts', import.meta.url).href;
    // A breaker and a bulkhead composed inline: only the pipeline is kept. After a full GC, their
    // gauges must still be read (the otel example lost its circuit gauge to a collection this way).
    const script = `
      const { breakers, bulkhead, circuitBreaker, compose, readGauges } = await import(${JSON.stringify(entry)});
      const pipeline = compose(bulkhead({ maxConcurrent: 2 }), circuitBreaker({ breaker: breakers.consecutive(5) }));
      await pipeline.execute(() => 'ok');
      for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      console.log(readGauges().map((g) => g.kind + ':' + g.gauge).sort().join(' '));
      console.log(typeof pipeline.execute);
    `;
    const child = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('bulkhead:executing bulkhead:queued circuit-breaker:state\nfunction');
  });
});
