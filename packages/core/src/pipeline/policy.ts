import { describe } from '../errors/validate.js';
import type { Disposable, EventBase, Listener } from '../events/events.js';
import { EventSlot } from '../events/events.js';
import { settleWithCallerSignal } from './caller-signal.js';
import { checkExecuteOptions, type ExecuteOptions, ExecutionContext, type PolicyContext } from './context.js';

/** Per-call fields a custom policy may change for the rest of the pipeline. */
export type ContextChanges = Partial<
  Pick<
    PolicyContext,
    'attempt' | 'deadline' | 'key' | 'priority' | 'idempotencyKey' | 'fingerprint' | 'idempotent'
  >
>;

/**
 * `next` hands the call to the rest of the pipeline: pass it the context `run` received, or that
 * context with per-call fields changed (`next({ ...ctx, key: 'k' })`, or just `next({ key: 'k' })`).
 * Changes apply to the layers inside; the signal stays the call's, and a deadline can only come
 * earlier.
 */
export type Next = (ctx: PolicyContext | ContextChanges) => Promise<unknown>;

export interface SuccessEvent extends EventBase {
  readonly durationMs: number;
}
export interface FailureEvent extends EventBase {
  readonly durationMs: number;
  readonly error: unknown;
}

/**
 * One call of fn (one attempt), on the diagnostics channel `breakwater:pipeline:attempt` only:
 * telemetry's attempt durations. `name` is the executed policy's or pipeline's.
 */
export interface AttemptEvent extends EventBase {
  readonly attempt: number;
  readonly durationMs: number;
  /** `'aborted'`: the caller's signal had aborted by the time fn settled. */
  readonly outcome: 'success' | 'failure' | 'aborted';
  readonly error?: unknown;
}

/** Measured only while somebody subscribes to `breakwater:pipeline:attempt`. */
const attemptEvents = new EventSlot<AttemptEvent>('pipeline', 'attempt');

/** Drops a trailing context parameter: `wrap((id: string, ctx) => …)` gives `(id: string) => …`. */
export type WrappedArgs<A extends unknown[]> = A extends [...infer Head, infer Last]
  ? [Last] extends [PolicyContext]
    ? Head
    : A
  : A;

declare const ADDS: unique symbol;

/**
 * A policy or a pipeline. `Adds` is what the policy may resolve with besides fn's own result (a
 * fallback's value); `never` for every policy that only passes fn's result on.
 */
export interface Policy<Adds = never> {
  /** Type-only: carries `Adds` through `compose`. Never set at run time. */
  readonly [ADDS]?: () => Adds;
  /** The policy's name, used in events and telemetry. */
  readonly name: string;
  /** The kind of policy (`'retry'`, `'timeout'`, …; `'pipeline'` for `compose`). */
  readonly kind: string;
  /** Runs `fn` through the policy. `fn` may be sync or async. */
  execute<T>(
    fn: (ctx: PolicyContext) => T | PromiseLike<T>,
    options?: ExecuteOptions,
  ): Promise<Awaited<T> | Adds>;
  /**
   * A function with `fn`'s parameters that runs through the policy; `fn` gets the context as an
   * extra last argument (pass `ctx.signal` on). Per-call options need `execute`.
   */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => R,
  ): (...args: WrappedArgs<A>) => Promise<Awaited<R> | Adds>;
  onSuccess(listener: Listener<SuccessEvent>): Disposable;
  onFailure(listener: Listener<FailureEvent>): Disposable;
}

/** Any policy, whatever it may add to fn's result. */
export type AnyPolicy = Policy<unknown>;

/** What a policy may resolve with besides fn's result. */
export type AddsOf<P> = P extends { readonly [ADDS]?: () => infer A } ? A : never;

/** One step of a pipeline, as `compose` folds it. */
export interface Layer {
  readonly kind: string;
  readonly name: string;
  /** Facts `compose` checks across layers (a timeout's `timeoutMs`, …). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The policy's logic; always returns a promise, never throws. */
  run(ctx: ExecutionContext, next: (ctx: ExecutionContext) => Promise<unknown>): Promise<unknown>;
  /** The policy's own success/failure events, reported around `run` while somebody listens. */
  readonly outcomes: OutcomeEvents;
}

export const LAYERS: unique symbol = Symbol('breakwater.layers');

export interface PolicyInternals {
  readonly [LAYERS]: readonly Layer[];
}

export function layersOf(policy: AnyPolicy): readonly Layer[] {
  const layers = (policy as Partial<PolicyInternals>)[LAYERS];
  if (!Array.isArray(layers)) {
    throw new TypeError(
      `compose: expected Breakwater policies, got ${policy === null ? 'null' : typeof policy}`,
    );
  }
  return layers;
}

/** A policy's `success` and `failure` events, measured only while somebody listens. */
export class OutcomeEvents {
  readonly success: EventSlot<SuccessEvent>;
  readonly failure: EventSlot<FailureEvent>;

  constructor(
    kind: string,
    readonly name: string,
    readonly now: () => number,
  ) {
    this.success = new EventSlot(kind, 'success');
    this.failure = new EventSlot(kind, 'failure');
  }

  /** Hot: checked around every call of every layer. The kind channel is shared by both events. */
  get active(): boolean {
    return (
      this.success.listeners.length !== 0 ||
      this.failure.listeners.length !== 0 ||
      this.success.kindChannel.hasSubscribers ||
      this.success.eventChannel.hasSubscribers ||
      this.failure.eventChannel.hasSubscribers
    );
  }

  async observe(ctx: ExecutionContext, run: () => Promise<unknown>): Promise<unknown> {
    const start = this.now();
    try {
      const value = await run();
      if (this.success.active) {
        this.success.emit({
          event: 'success',
          name: this.name,
          pipeline: ctx.pipeline,
          durationMs: this.now() - start,
        });
      }
      return value;
    } catch (error) {
      if (this.failure.active && !ctx.callerAborted) {
        this.failure.emit({
          event: 'failure',
          name: this.name,
          pipeline: ctx.pipeline,
          durationMs: this.now() - start,
          error,
        });
      }
      throw error;
    }
  }
}

/** A layer that only reports a nested pipeline's edge events: `compose` keeps it when it flattens. */
const passThrough = (ctx: ExecutionContext, next: (ctx: ExecutionContext) => Promise<unknown>) => next(ctx);

/**
 * A policy: its layers folded into one runner. Single policies and `compose` pipelines are both
 * PolicyImpl, so `execute` is the same code for both. A single policy's layer reports its own
 * outcomes (so its events fire inside any pipeline too); a pipeline reports at its edge, and when
 * it is composed into another pipeline its edge travels along as a pass-through layer.
 */
export class PolicyImpl implements Policy<unknown>, PolicyInternals {
  readonly [LAYERS]: readonly Layer[];
  private readonly runner: (ctx: ExecutionContext) => Promise<unknown>;
  private readonly pipelineName: string | undefined;
  private readonly edgeEvents: OutcomeEvents | undefined;

  constructor(
    readonly kind: string,
    readonly name: string,
    layers: readonly Layer[],
    pipelineName: string | undefined,
    private readonly outcomes: OutcomeEvents,
  ) {
    this.pipelineName = pipelineName;
    this.edgeEvents = pipelineName === undefined ? undefined : outcomes;
    this[LAYERS] =
      pipelineName === undefined
        ? layers
        : [{ kind, name, meta: Object.freeze({}), run: passThrough, outcomes }, ...layers];
    const now = outcomes.now;
    let next = (ctx: ExecutionContext): Promise<unknown> =>
      attemptEvents.active ? observeAttempt(name, now, ctx) : callFn(ctx);
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const inner = next;
      const { run, outcomes } = layer;
      next = (ctx) => (outcomes.active ? outcomes.observe(ctx, () => run(ctx, inner)) : run(ctx, inner));
    }
    this.runner = next;
  }

  execute<T>(fn: (ctx: PolicyContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<Awaited<T>> {
    if (typeof fn !== 'function') {
      return Promise.reject(
        new TypeError(`${this.name}.execute: fn must be a function, got ${describe(fn)}`),
      );
    }
    let signal: AbortSignal | undefined;
    if (options !== undefined) {
      const problem = checkExecuteOptions(this.name, options);
      if (problem !== undefined) return Promise.reject(problem);
      signal = options.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
    }
    const ctx = new ExecutionContext(fn, options, this.pipelineName);
    let promise: Promise<unknown>;
    try {
      promise = this.edgeEvents?.active
        ? this.edgeEvents.observe(ctx, () => this.runner(ctx))
        : this.runner(ctx);
    } catch (error) {
      promise = Promise.reject(error);
    }
    if (signal !== undefined) promise = settleWithCallerSignal(ctx, signal, promise);
    return promise as Promise<Awaited<T>>;
  }

  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: WrappedArgs<A>) => Promise<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`${this.name}.wrap: expected a function, got ${describe(fn)}`);
    return (...args: WrappedArgs<A>) =>
      this.execute((ctx) => (fn as (...a: unknown[]) => R)(...args, ctx)) as Promise<Awaited<R>>;
  }

  onSuccess(listener: Listener<SuccessEvent>): Disposable {
    return this.outcomes.success.on(listener);
  }

  onFailure(listener: Listener<FailureEvent>): Disposable {
    return this.outcomes.failure.on(listener);
  }
}

async function observeAttempt(name: string, now: () => number, ctx: ExecutionContext): Promise<unknown> {
  const start = now();
  const attempt = ctx.attempt;
  const report = (outcome: AttemptEvent['outcome'], error?: unknown): void => {
    const base = {
      event: 'attempt',
      name,
      pipeline: ctx.pipeline,
      attempt,
      durationMs: now() - start,
      outcome,
    };
    attemptEvents.emit(outcome === 'failure' ? { ...base, error } : base);
  };
  try {
    const value = await callFn(ctx);
    report(ctx.callerAborted ? 'aborted' : 'success');
    return value;
  } catch (error) {
    report(ctx.callerAborted ? 'aborted' : 'failure', error);
    throw error;
  }
}

/** The end of every pipeline: the user's function, sync or async, as a promise. */
function callFn(ctx: ExecutionContext): Promise<unknown> {
  try {
    return Promise.resolve(ctx.fn(ctx));
  } catch (error) {
    return Promise.reject(error);
  }
}
