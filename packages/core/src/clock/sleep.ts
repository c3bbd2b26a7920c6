import type { ExecutionContext } from '../pipeline/context.js';
import { type Clock, systemClock } from './clock.js';

/**
 * Waits `ms` on `clock`; rejects with the scope's abort reason as soon as `ctx` aborts. Unlike the
 * timers that only guard a call (timeouts, queue limits), this wait is the caller's pending work, so
 * a real timer stays ref'd: a script awaiting a retry must not exit in the middle of the delay.
 */
export function sleep(clock: Clock, ms: number, ctx: ExecutionContext): Promise<void> {
  if (ctx.aborted) return Promise.reject(ctx.abortReason);
  return new Promise<void>((resolve, reject) => {
    const unsubscribe = ctx.onAbort((reason) => {
      clock.clearTimeout(handle);
      reject(reason);
    });
    const handle = clock.setTimeout(() => {
      unsubscribe();
      resolve();
    }, ms);
    if (clock === systemClock) (handle as NodeJS.Timeout).ref();
  });
}
