import { type Limiter, type LimiterResult, StoreUnavailableError } from '@breakwater/core';
import type Bottleneck from 'bottleneck';

export interface BottleneckLimiterOptions {
  /** The wait a refusal reports (Bottleneck does not say when a job would run). @default 100 */
  retryAfterMs?: number;
  /** A Bottleneck that fails (its Redis unreachable) lets calls through when `true`; else they are refused. @default false */
  failOpen?: boolean;
}

export interface BottleneckLimiter extends Limiter {
  tryAcquire(cost: number, now?: number): Promise<LimiterResult>;
}

const noop = async (): Promise<void> => {};

/**
 * A user's Bottleneck (clustered with its ioredis datastore, or not) as the limiter of `rateLimit`:
 * a call passes when Bottleneck would run a job of its `cost` (its weight) now, and runs one to take
 * it. The check and the job are two steps: under a race a job may queue briefly in Bottleneck; give it
 * `highWater: 0` with `strategy: Bottleneck.strategy.OVERFLOW` for a strict refusal, which is read as one.
 */
export function bottleneckLimiter(
  bottleneck: Bottleneck,
  options: BottleneckLimiterOptions = {},
): BottleneckLimiter {
  if (typeof bottleneck?.check !== 'function' || typeof bottleneck.schedule !== 'function') {
    throw new TypeError('bottleneckLimiter: the first argument must be a Bottleneck (new Bottleneck({ … }))');
  }
  const retryAfterMs = options.retryAfterMs ?? 100;
  if (typeof retryAfterMs !== 'number' || !(retryAfterMs >= 0)) {
    throw new RangeError('bottleneckLimiter: option "retryAfterMs" must be a number of ms >= 0');
  }
  const failOpen = options.failOpen ?? false;
  if (typeof failOpen !== 'boolean')
    throw new TypeError('bottleneckLimiter: option "failOpen" must be a boolean');
  const refused: LimiterResult = Object.freeze({ ok: false, retryAfterMs });
  const passed: LimiterResult = Object.freeze({ ok: true });
  return {
    async tryAcquire(cost: number): Promise<LimiterResult> {
      try {
        if (!(await bottleneck.check(cost))) return refused;
        await bottleneck.schedule({ weight: cost }, noop);
        return passed;
      } catch (error) {
        // OVERFLOW with highWater 0 drops a job that cannot run now: a refusal, not a fault.
        if (error instanceof Error && /dropped/i.test(error.message)) return refused;
        if (failOpen) return passed;
        throw new StoreUnavailableError('Bottleneck failed; the call was not run', {
          cause: error,
          retryAfterMs: 1_000,
        });
      }
    },
  };
}
