import { checkOptions, func, nameOption } from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext, PolicyContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import { errorCounts, type Outcome, type OutcomePredicate, valueCounts } from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import { FALLBACK_DEFAULTS, type FallbackEvent, type FallbackOptions } from './options.js';

/** `T` is the fallback's value: a pipeline with this policy resolves with fn's result or a `T`. */
export interface FallbackPolicy<T = unknown> extends Policy<T> {
  onFallback(listener: Listener<FallbackEvent>): Disposable;
}

/** A replacement: a value, or a function of the failed outcome (sync or async). */
export type FallbackValue<T = unknown> = T | ((outcome: Outcome, ctx: PolicyContext) => T | PromiseLike<T>);

type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/**
 * Replaces a failure with a value. A function given as `valueOrFn` is called with the outcome and
 * the context; to fall back to a function value, return it from a function.
 */
export function fallback<T>(
  valueOrFn: FallbackValue<T>,
  options: FallbackOptions = {},
): FallbackPolicy<Awaited<T>> {
  // biome-ignore lint/complexity/noArguments: `fallback(undefined)` is a value; only no argument is a mistake
  if (arguments.length === 0) {
    throw new TypeError(
      'fallback: the replacement value is required: fallback(value) or fallback((outcome, ctx) => value)',
    );
  }
  checkOptions('fallback', options, ['name', 'on']);
  const name = nameOption('fallback', options.name, FALLBACK_DEFAULTS.name);
  const on = options.on === undefined ? undefined : func<OutcomePredicate>('fallback', 'on', options.on);
  const fallbackEvent = new EventSlot<FallbackEvent>('fallback', 'fallback');
  const replace =
    typeof valueOrFn === 'function'
      ? (valueOrFn as (outcome: Outcome, ctx: PolicyContext) => unknown)
      : () => valueOrFn;

  function use(ctx: ExecutionContext, outcome: Outcome): unknown {
    if (fallbackEvent.active)
      fallbackEvent.emit({ event: 'fallback', name, pipeline: ctx.pipeline, ...outcome });
    return replace(outcome, ctx);
  }

  async function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    let value: unknown;
    try {
      value = await next(ctx);
    } catch (error) {
      if (!errorCounts(ctx, error, on)) throw error;
      return use(ctx, { error });
    }
    if (valueCounts(ctx, value, on)) return use(ctx, { value });
    return value;
  }

  return createPolicy(
    { name, kind: 'fallback', run: run as never },
    { api: { onFallback: (listener: Listener<FallbackEvent>) => fallbackEvent.on(listener) } },
  ) as unknown as FallbackPolicy<Awaited<T>>;
}
