import { systemClock } from '../clock/clock.js';
import { checkOptions, optionError } from '../errors/validate.js';
import { GAUGES } from '../events/gauges.js';
import { ExecutionContext, type PolicyContext } from './context.js';
import { type Layer, type Next, OutcomeEvents, type Policy, PolicyImpl } from './policy.js';

export interface CreatePolicyOptions {
  /** Name used in events and telemetry. */
  name: string;
  /** The policy's logic: do something around `next(ctx)` and return its promise (or your own). */
  run: (ctx: PolicyContext, next: Next) => Promise<unknown>;
  /** Kind used for the diagnostics channel `breakwater:<kind>`. @default 'custom' */
  kind?: string;
}

/** Internal: what a built-in policy hands to `createPolicy` beyond the public options. */
export interface PolicySpec<Api extends object = object> {
  meta?: Readonly<Record<string, unknown>>;
  now?: () => number;
  /** Methods and getters added to the policy object (breaker `state`, event subscriptions, …). */
  api?: Api;
  /** `run` always returns a promise and never throws: skip the guard around it (built-ins only). */
  trusted?: boolean;
}

const KIND = /^[a-z][a-z0-9-]*$/;

/**
 * Makes a policy from `run(ctx, next)`. Every built-in policy is made with it; `compose` folds the
 * layers it produces.
 */
export function createPolicy<Api extends object = object>(
  options: CreatePolicyOptions,
  spec: PolicySpec<Api> = {},
): Policy & Api {
  checkOptions('createPolicy', options, ['name', 'run', 'kind']);
  const { name, run, kind = 'custom' } = options;
  if (typeof name !== 'string' || name === '')
    throw optionError('createPolicy', 'name', 'a non-empty string', name);
  if (typeof run !== 'function')
    throw optionError('createPolicy', 'run', 'a function (ctx, next) => Promise', run);
  if (typeof kind !== 'string' || !KIND.test(kind)) {
    throw optionError('createPolicy', 'kind', 'a kebab-case string', kind);
  }
  const guarded = (
    ctx: ExecutionContext,
    next: (ctx: ExecutionContext) => Promise<unknown>,
  ): Promise<unknown> => {
    // `next` takes the context run was given or any object with changed per-call fields
    // (`{ ...ctx, key }`): the latter becomes a child of the call's context, so cancellation,
    // timers and the pipeline stay the call's.
    const forward: Next = (given) =>
      next(given instanceof ExecutionContext ? given : ctx.derive(given as Partial<PolicyContext>));
    try {
      return Promise.resolve(run(ctx, forward));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const outcomes = new OutcomeEvents(kind, name, spec.now ?? systemClock.now);
  const gauges = (spec.api as { [GAUGES]?: unknown } | undefined)?.[GAUGES];
  const layer: Layer = {
    kind,
    name,
    // The layer holds the policy's gauge source, so the gauges live as long as a pipeline that holds
    // the layer, not only as long as the policy object (which a pipeline built inline drops).
    meta: Object.freeze(gauges === undefined ? { ...spec.meta } : { ...spec.meta, [GAUGES]: gauges }),
    run: spec.trusted === true ? (run as unknown as Layer['run']) : guarded,
    outcomes,
  };
  const policy = new PolicyImpl(kind, name, [layer], undefined, outcomes);
  if (spec.api !== undefined) Object.defineProperties(policy, Object.getOwnPropertyDescriptors(spec.api));
  return policy as unknown as Policy & Api;
}
