import type { ExecutionContext } from '../pipeline/context.js';
import type { Clock } from './clock.js';

/**
 * Waits `ms` on `clock`; rejects with the scope's abort reason as soon as `ctx` aborts. The wait is
 * the caller's pending work, so it keeps the process alive as a plain `setTimeout` would.
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
  });
}
