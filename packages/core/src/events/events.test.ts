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
