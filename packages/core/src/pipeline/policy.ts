import type { Disposable, EventBase, Listener } from '../events/events.js';
import { EventSlot } from '../events/events.js';
import { settleWithCallerSignal } from './caller-signal.js';
import { type ExecuteOptions, ExecutionContext, type PolicyContext } from './context.js';

/** `next` hands the call to the rest of the pipeline. */
export type Next = (ctx: PolicyContext) => Promise<unknown>;

export interface SuccessEvent extends EventBase {
  readonly durationMs: number;
}
export interface FailureEvent extends EventBase {
  readonly durationMs: number;
  readonly error: unknown;
}

/** Drops a trailing context parameter: `wrap((id: string, ctx) => …)` gives `(id: string) => …`. */
export type WrappedArgs<A extends unknown[]> = A extends [...infer Head, infer Last]
  ? [Last] extends [PolicyContext]
    ? Head
    : A
  : A;

export interface Policy {
  /** The policy's name, used in events and telemetry. */
  readonly name: string;
  /** The kind of policy (`'retry'`, `'timeout'`, …; `'pipeline'` for `compose`). */
  readonly kind: string;
  /** Runs `fn` through the policy. `fn` may be sync or async. */
  execute<T>(fn: (ctx: PolicyContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<Awaited<T>>;
  /** A function with `fn`'s parameters that runs through the policy; `fn` gets the context as an extra last argument. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: WrappedArgs<A>) => Promise<Awaited<R>>;
  onSuccess(listener: Listener<SuccessEvent>): Disposable;
  onFailure(listener: Listener<FailureEvent>): Disposable;
}

/** One step of a pipeline, as `compose` folds it. */
export interface Layer {
  readonly kind: string;
  readonly name: string;
  /** Facts `compose` checks across layers (a timeout's `timeoutMs`, …). */
  readonly meta: Readonly<Record<string, unknown>>;
  run(ctx: ExecutionContext, next: (ctx: ExecutionContext) => Promise<unknown>): Promise<unknown>;
}

export const LAYERS: unique symbol = Symbol('breakwater.layers');

export interface PolicyInternals {
  readonly [LAYERS]: readonly Layer[];
}

export function layersOf(policy: Policy): readonly Layer[] {
  const layers = (policy as Partial<PolicyInternals>)[LAYERS];
  if (!Array.isArray(layers)) {
    throw new TypeError(
      `compose: expected Breakwater policies, got ${policy === null ? 'null' : typeof policy}`,
    );
  }
  return layers;
}

/**
 * A policy: its layers folded into one runner. Single policies and `compose` pipelines are both
 * PolicyImpl, so `execute` is the same code for both.
 */
export class PolicyImpl implements Policy, PolicyInternals {
  readonly [LAYERS]: readonly Layer[];
  private readonly runner: (ctx: ExecutionContext) => Promise<unknown>;
  private readonly pipelineName: string | undefined;
  private readonly successSlot: EventSlot<SuccessEvent>;
  private readonly failureSlot: EventSlot<FailureEvent>;
  private readonly now: () => number;

  constructor(
    readonly kind: string,
    readonly name: string,
    layers: readonly Layer[],
    pipelineName: string | undefined,
    now: () => number,
  ) {
    this[LAYERS] = layers;
    this.pipelineName = pipelineName;
    this.now = now;
    this.successSlot = new EventSlot(kind, 'success');
    this.failureSlot = new EventSlot(kind, 'failure');
    let next = callFn;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const inner = next;
      next = (ctx) => layer.run(ctx, inner);
    }
    this.runner = next;
  }

  execute<T>(fn: (ctx: PolicyContext) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<Awaited<T>> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ctx = new ExecutionContext(fn, options, this.pipelineName);
    let promise: Promise<unknown>;
    if (this.successSlot.active || this.failureSlot.active) {
      promise = this.observe(ctx);
    } else {
      try {
        promise = this.runner(ctx);
      } catch (error) {
        promise = Promise.reject(error);
      }
    }
    if (signal !== undefined) promise = settleWithCallerSignal(ctx, signal, promise);
    return promise as Promise<Awaited<T>>;
  }

  private async observe(ctx: ExecutionContext): Promise<unknown> {
    const start = this.now();
    try {
      const value = await this.runner(ctx);
      if (this.successSlot.active) {
        this.successSlot.emit({
          event: 'success',
          name: this.name,
          pipeline: ctx.pipeline,
          durationMs: this.now() - start,
        });
      }
      return value;
    } catch (error) {
      if (this.failureSlot.active && !ctx.isCallerAbort(error)) {
        this.failureSlot.emit({
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

  wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: WrappedArgs<A>) => Promise<Awaited<R>> {
    if (typeof fn !== 'function')
      throw new TypeError(`${this.name}.wrap: expected a function, got ${typeof fn}`);
    return (...args: WrappedArgs<A>) =>
      this.execute((ctx) => (fn as (...a: unknown[]) => R)(...args, ctx)) as Promise<Awaited<R>>;
  }

  onSuccess(listener: Listener<SuccessEvent>): Disposable {
    return this.successSlot.on(listener);
  }

  onFailure(listener: Listener<FailureEvent>): Disposable {
    return this.failureSlot.on(listener);
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
