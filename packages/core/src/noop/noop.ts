import { checkOptions, nameOption } from '../errors/validate.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { NOOP_DEFAULTS, type NoopOptions } from './options.js';

const passThrough = (ctx: ExecutionContext, next: (ctx: ExecutionContext) => Promise<unknown>) => next(ctx);

/**
 * A policy that does nothing: for a slot in a pipeline that is configured off (a test, a feature
 * flag) without changing the pipeline's shape. Its `onSuccess`/`onFailure` still fire.
 */
export function noop(options: NoopOptions = {}): Policy {
  checkOptions('noop', options, ['name']);
  const name = nameOption('noop', options.name, NOOP_DEFAULTS.name);
  return createPolicy({ name, kind: 'noop', run: passThrough as never }, { trusted: true });
}
