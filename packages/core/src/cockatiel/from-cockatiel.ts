import { checkOptions, nameOption, optionError } from '../errors/validate.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { type CockatielPolicyLike, FROM_COCKATIEL_DEFAULTS, type FromCockatielOptions } from './options.js';

type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/**
 * Makes a Breakwater policy of a cockatiel policy, so a codebase can move one call site at a time.
 * The call's `ctx.signal` is cockatiel's parent signal; the signal cockatiel hands each of its
 * attempts (aborted by its timeout) reaches the layers inside as their `ctx.signal`. Cockatiel's
 * rejections (`BrokenCircuitError`, `TaskCancelledError`, `BulkheadRejectedError`) pass through as
 * they are.
 */
export function fromCockatiel(policy: CockatielPolicyLike, options: FromCockatielOptions = {}): Policy {
  if (typeof policy !== 'object' || policy === null || typeof policy.execute !== 'function') {
    throw optionError(
      'fromCockatiel',
      'policy',
      'a cockatiel policy (an object with execute(fn, signal))',
      policy,
    );
  }
  checkOptions('fromCockatiel', options, ['name']);
  const name = nameOption('fromCockatiel', options.name, FROM_COCKATIEL_DEFAULTS.name);

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    return policy.execute(({ signal }) => {
      // Each of cockatiel's attempts runs in a scope of its own that aborts with cockatiel's signal.
      const scope = ctx.fork();
      const onAbort = (): void => scope.abort(signal.reason);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      return next(scope).finally(() => {
        signal.removeEventListener('abort', onAbort);
        scope.release();
      });
    }, ctx.signal);
  }

  return createPolicy({ name, kind: 'cockatiel', run: run as never });
}
