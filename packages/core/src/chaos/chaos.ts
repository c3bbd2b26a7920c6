import { type Clock, systemClock, systemRandom } from '../clock/clock.js';
import { sleep } from '../clock/sleep.js';
import { ChaosError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  given,
  nameOption,
  optionError,
  plainObject,
  randomOption,
  unitInterval,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext, PolicyContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import {
  CHAOS_DEFAULTS,
  type ChaosFaultOptions,
  type ChaosLatencyOptions,
  type ChaosOptions,
  type ChaosOutcomeOptions,
  type InjectEvent,
} from './options.js';

export interface ChaosPolicy<Adds = never> extends Policy<Adds> {
  onInject(listener: Listener<InjectEvent>): Disposable;
}

type Runner = (ctx: ExecutionContext) => Promise<unknown>;
type Inject = (ctx: ExecutionContext, next: Runner, emit: (delayMs?: number) => void) => Promise<unknown>;

const COMMON = ['name', 'rate', 'enabled', 'random', 'clock'];
const passThrough = (ctx: ExecutionContext, next: Runner) => next(ctx);

/** What every chaos policy shares: the rate, the switch, the event. */
function chaosPolicy<Adds>(
  policy: string,
  injection: InjectEvent['injection'],
  options: ChaosOptions,
  extra: readonly string[],
  inject: (clock: Clock) => Inject,
): ChaosPolicy<Adds> {
  checkOptions(policy, options, [...COMMON, ...extra]);
  const name = nameOption(policy, options.name, CHAOS_DEFAULTS.name);
  const rate = unitInterval(policy, 'rate', options.rate);
  const enabled = given(options.enabled, CHAOS_DEFAULTS.enabled);
  if (typeof enabled !== 'boolean' && typeof enabled !== 'function') {
    throw optionError(policy, 'enabled', 'a boolean or a function () => boolean', enabled);
  }
  const random = randomOption(policy, options.random, systemRandom);
  const clock = clockOption(policy, options.clock, systemClock);
  const injectEvent = new EventSlot<InjectEvent>('chaos', 'inject');
  const apply = inject(clock);

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    if (enabled === false) return next(ctx);
    if (typeof enabled === 'function' && !enabled()) return next(ctx);
    if (!(random() < rate)) return next(ctx);
    return apply(ctx, next, (delayMs) => {
      if (injectEvent.active) {
        injectEvent.emit({
          event: 'inject',
          name,
          pipeline: ctx.pipeline,
          injection,
          ...(delayMs === undefined ? {} : { delayMs }),
        });
      }
    });
  }

  // Switched off for good: a pass-through, which `compose` leaves out of the pipeline altogether.
  const off = enabled === false || rate === 0;
  return createPolicy(
    { name, kind: 'chaos', run: (off ? passThrough : run) as never },
    {
      meta: off ? { transparent: true } : {},
      api: { onInject: (listener: Listener<InjectEvent>) => injectEvent.on(listener) },
    },
  ) as unknown as ChaosPolicy<Adds>;
}

const resolveGiven = <T>(given: T | ((ctx: PolicyContext) => T), ctx: PolicyContext): T =>
  typeof given === 'function' ? (given as (ctx: PolicyContext) => T)(ctx) : given;

/** Rejects a share of calls without running fn (with `error`, or a `ChaosError`). */
function fault(options: ChaosFaultOptions): ChaosPolicy {
  plainObject('chaos.fault', 'options', options);
  const hasError = 'error' in options;
  return chaosPolicy('chaos.fault', 'fault', options, ['error'], () => (ctx, _next, emit) => {
    emit();
    return Promise.reject(
      hasError ? resolveGiven(options.error, ctx) : new ChaosError({ policy: options.name }),
    );
  });
}

/** Delays a share of calls by `delayMs` before fn runs (the wait ends early if the call aborts). */
function latency(options: ChaosLatencyOptions): ChaosPolicy {
  plainObject('chaos.latency', 'options', options);
  const { delayMs } = options;
  if (
    typeof delayMs !== 'function' &&
    !(typeof delayMs === 'number' && delayMs >= 0 && Number.isFinite(delayMs))
  ) {
    throw optionError(
      'chaos.latency',
      'delayMs',
      'a finite number >= 0 or a function of the context',
      delayMs,
    );
  }
  return chaosPolicy('chaos.latency', 'latency', options, ['delayMs'], (clock) => async (ctx, next, emit) => {
    const ms = resolveGiven(delayMs, ctx);
    if (!(typeof ms === 'number' && ms >= 0 && Number.isFinite(ms))) {
      throw new TypeError(`chaos.latency: delayMs gave ${String(ms)}, not a finite number >= 0`);
    }
    emit(ms);
    if (ms > 0) await sleep(clock, ms, ctx);
    return next(ctx);
  });
}

/** Answers a share of calls with `value` without running fn. */
function outcome<T>(options: ChaosOutcomeOptions<T>): ChaosPolicy<T> {
  plainObject('chaos.outcome', 'options', options);
  if (!('value' in options))
    throw optionError('chaos.outcome', 'value', 'a value or a function of the context', undefined);
  return chaosPolicy<T>('chaos.outcome', 'outcome', options, ['value'], () => async (ctx, _next, emit) => {
    emit();
    return resolveGiven(options.value, ctx);
  });
}

/** Fault, latency and result injection for game days, tests and benchmarks. */
export const chaos = Object.freeze({ fault, latency, outcome });
