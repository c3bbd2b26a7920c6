import type { TimerEntry } from '../clock/timer-queue.js';

export type Priority = 'critical' | 'default' | 'sheddable';

/** What `fn` and every policy see of a call. */
export interface PolicyContext {
  /**
   * Aborted on timeout, on hedge loss and on the caller's `options.signal`, with the reason of
   * whichever came first. Made on first read: a call that never reads it allocates no AbortController.
   */
  readonly signal: AbortSignal;
  /** 1-based attempt number; retry raises it. */
  readonly attempt: number;
  /** Epoch ms by which the call must end, or `undefined`. Inner timeouts never extend it. */
  readonly deadline: number | undefined;
  readonly key: string | undefined;
  readonly priority: Priority;
  readonly idempotencyKey: string | undefined;
  readonly fingerprint: string | undefined;
  /** `false` when the call must not be repeated (retry and hedge pass its outcome through). */
  readonly idempotent: boolean;
  /** Name of the pipeline the call runs through, if it runs through `compose`. */
  readonly pipeline: string | undefined;
}

/** Per-call options of `Policy.execute`. */
export interface ExecuteOptions {
  /** The caller's signal: aborting it rejects the call with `signal.reason`. */
  signal?: AbortSignal | undefined;
  /** Cache key (and, later, the key of other keyed policies). */
  key?: string | undefined;
  idempotencyKey?: string | undefined;
  fingerprint?: string | undefined;
  /** @default 'default' */
  priority?: Priority | undefined;
  /** Epoch ms by which the call must end. Timeouts fire no later; retry starts nothing that would end past it. */
  deadline?: number | undefined;
  /** `false` marks a call that must not be repeated. @default true */
  idempotent?: boolean | undefined;
}

type AbortListener = (reason: unknown) => void;

/**
 * The one mutable object a call carries through the pipeline. A policy that scopes cancellation
 * (timeout, later hedge) forks a child: the child aborts when its own policy says so or when any
 * ancestor aborts. Propagation is wired lazily, only when somebody reads `signal` or waits on the
 * scope, so the common path allocates one object per call.
 */
export class ExecutionContext implements PolicyContext, TimerEntry {
  attempt = 1;
  deadline: number | undefined;
  key: string | undefined;
  priority: Priority;
  idempotencyKey: string | undefined;
  fingerprint: string | undefined;
  idempotent: boolean;
  pipeline: string | undefined;

  /** The user's function, called at the end of the pipeline. */
  fn: (ctx: PolicyContext) => unknown;
  readonly parent: ExecutionContext | undefined;
  readonly callerSignal: AbortSignal | undefined;

  private abortedHere = false;
  private reasonHere: unknown;
  private controller: AbortController | undefined;
  private listeners: AbortListener[] | undefined;
  private unlinkParent: (() => void) | undefined;

  // TimerEntry, used by timeout scopes.
  expiresAt = 0;
  timerPrev: TimerEntry | undefined;
  timerNext: TimerEntry | undefined;
  timerQueued = false;
  timerHandle: unknown;
  /** Set by the policy that owns this scope; called when its timer fires. */
  expire: ((ctx: ExecutionContext) => void) | undefined;
  /** Time the owner gave this scope (a timeout's ms, or less when a deadline came first). */
  budgetMs = 0;
  /** The error this scope's own timer aborted it with, once it has fired. */
  expiredWith: unknown;

  constructor(
    fn: (ctx: PolicyContext) => unknown,
    options: ExecuteOptions | undefined,
    pipeline: string | undefined,
    parent?: ExecutionContext,
  ) {
    this.fn = fn;
    this.pipeline = pipeline;
    this.parent = parent;
    if (parent !== undefined) {
      this.attempt = parent.attempt;
      this.deadline = parent.deadline;
      this.key = parent.key;
      this.priority = parent.priority;
      this.idempotencyKey = parent.idempotencyKey;
      this.fingerprint = parent.fingerprint;
      this.idempotent = parent.idempotent;
      this.callerSignal = undefined;
    } else if (options === undefined) {
      this.deadline = undefined;
      this.key = undefined;
      this.priority = 'default';
      this.idempotencyKey = undefined;
      this.fingerprint = undefined;
      this.idempotent = true;
      this.callerSignal = undefined;
    } else {
      this.deadline = options.deadline;
      this.key = options.key;
      this.priority = options.priority ?? 'default';
      this.idempotencyKey = options.idempotencyKey;
      this.fingerprint = options.fingerprint;
      this.idempotent = options.idempotent !== false;
      this.callerSignal = options.signal;
    }
  }

  /** A child scope that can be aborted on its own (a timeout's window, a hedge's attempt). */
  fork(): ExecutionContext {
    return new ExecutionContext(this.fn, undefined, this.pipeline, this);
  }

  get aborted(): boolean {
    if (this.abortedHere) return true;
    if (this.parent !== undefined) return this.parent.aborted;
    return this.callerSignal?.aborted === true;
  }

  get abortReason(): unknown {
    if (this.abortedHere) return this.reasonHere;
    if (this.parent !== undefined) return this.parent.abortReason;
    return this.callerSignal?.reason;
  }

  /** Whether `error` is the caller's own abort reason: such outcomes never count as failures. */
  isCallerAbort(error: unknown): boolean {
    let root: ExecutionContext = this;
    while (root.parent !== undefined) root = root.parent;
    const signal = root.callerSignal;
    return signal?.aborted === true && signal.reason === error;
  }

  get signal(): AbortSignal {
    if (this.controller !== undefined) return this.controller.signal;
    // A root with a caller signal is aborted by nothing else: hand the caller's signal on as it is.
    if (this.parent === undefined && this.callerSignal !== undefined) return this.callerSignal;
    const controller = new AbortController();
    this.controller = controller;
    if (this.aborted) controller.abort(this.abortReason);
    else this.link();
    return controller.signal;
  }

  /** Aborts this scope and every scope below it that is being watched. */
  abort(reason: unknown): void {
    if (this.abortedHere) return;
    this.abortedHere = true;
    this.reasonHere = reason;
    this.controller?.abort(reason);
    const listeners = this.listeners;
    if (listeners !== undefined) {
      this.listeners = undefined;
      for (const listener of listeners) listener(reason);
    }
  }

  /** Calls `listener` once when this scope aborts; returns the unsubscribe function. */
  onAbort(listener: AbortListener): () => void {
    if (this.listeners === undefined) this.listeners = [];
    this.listeners.push(listener);
    this.link();
    return () => {
      const listeners = this.listeners;
      if (listeners === undefined) return;
      const index = listeners.indexOf(listener);
      if (index !== -1) listeners.splice(index, 1);
    };
  }

  private link(): void {
    // The root learns of the caller's abort from `execute`, which always watches the caller's signal.
    if (this.parent === undefined || this.unlinkParent !== undefined) return;
    this.unlinkParent = this.parent.onAbort((reason) => this.abort(reason));
  }

  /** Called when the scope's owner settles: stop listening to ancestors. */
  release(): void {
    if (this.unlinkParent !== undefined) {
      this.unlinkParent();
      this.unlinkParent = undefined;
    }
    this.listeners = undefined;
  }

  /** The owner's timer fired. */
  onExpire(): void {
    this.expire?.(this);
  }
}
