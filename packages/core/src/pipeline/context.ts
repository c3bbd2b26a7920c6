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
 * The cancellation and timer state of a context, made only when needed: when `signal` is read, when
 * the context aborts or is waited on, and for the scope a timeout opens. Most calls never make one.
 */
export class ScopeState implements TimerEntry {
  declare aborted: boolean;
  declare reason: unknown;
  declare controller: AbortController | undefined;
  declare listeners: AbortListener[] | undefined;
  declare unlinkParent: (() => void) | undefined;
  // TimerEntry, used by timeout scopes.
  declare expiresAt: number;
  declare timerPrev: TimerEntry | undefined;
  declare timerNext: TimerEntry | undefined;
  declare timerQueued: boolean;
  declare timerHandle: unknown;
  /** Set by the policy that owns the scope; called when its timer fires. */
  declare expire: ((ctx: ExecutionContext) => void) | undefined;
  /** Time the owner gave the scope (a timeout's ms, or less when a deadline came first). */
  declare budgetMs: number;
  /** The error the scope's own timer aborted it with, once it has fired. */
  declare expiredWith: unknown;

  constructor(readonly owner: ExecutionContext) {
    this.aborted = false;
    this.reason = undefined;
    this.controller = undefined;
    this.listeners = undefined;
    this.unlinkParent = undefined;
    this.expiresAt = 0;
    this.timerPrev = undefined;
    this.timerNext = undefined;
    this.timerQueued = false;
    this.timerHandle = undefined;
    this.expire = undefined;
    this.budgetMs = 0;
    this.expiredWith = undefined;
  }

  onExpire(): void {
    this.expire?.(this.owner);
  }
}

/**
 * The one mutable object a call carries through the pipeline. A policy that scopes cancellation
 * (timeout, later hedge) forks a child: the child aborts when its own policy says so or when any
 * ancestor aborts. Propagation is wired lazily, only when somebody reads `signal` or waits on the
 * scope, so the common path allocates one small object per call.
 */
export class ExecutionContext implements PolicyContext {
  // Fields are declared, then all assigned in the constructor in one order: no class-field
  // initializer runs, and every context has the same shape.
  declare attempt: number;
  declare deadline: number | undefined;
  declare key: string | undefined;
  declare priority: Priority;
  declare idempotencyKey: string | undefined;
  declare fingerprint: string | undefined;
  declare idempotent: boolean;
  declare pipeline: string | undefined;
  /** The user's function, called at the end of the pipeline. */
  declare fn: (ctx: PolicyContext) => unknown;
  declare readonly parent: ExecutionContext | undefined;
  declare readonly callerSignal: AbortSignal | undefined;
  /** Cancellation and timer state, made on first need. */
  declare state: ScopeState | undefined;

  constructor(
    fn: (ctx: PolicyContext) => unknown,
    options: ExecuteOptions | undefined,
    pipeline: string | undefined,
    parent?: ExecutionContext,
  ) {
    if (parent !== undefined) {
      this.attempt = parent.attempt;
      this.deadline = parent.deadline;
      this.key = parent.key;
      this.priority = parent.priority;
      this.idempotencyKey = parent.idempotencyKey;
      this.fingerprint = parent.fingerprint;
      this.idempotent = parent.idempotent;
    } else if (options === undefined) {
      this.attempt = 1;
      this.deadline = undefined;
      this.key = undefined;
      this.priority = 'default';
      this.idempotencyKey = undefined;
      this.fingerprint = undefined;
      this.idempotent = true;
    } else {
      this.attempt = 1;
      this.deadline = options.deadline;
      this.key = options.key;
      this.priority = options.priority ?? 'default';
      this.idempotencyKey = options.idempotencyKey;
      this.fingerprint = options.fingerprint;
      this.idempotent = options.idempotent !== false;
    }
    this.pipeline = pipeline;
    this.fn = fn;
    this.parent = parent;
    this.callerSignal = parent === undefined ? options?.signal : undefined;
    this.state = undefined;
  }

  /** A child scope that can be aborted on its own (a timeout's window, a hedge's attempt). */
  fork(): ExecutionContext {
    const child = new ExecutionContext(this.fn, undefined, this.pipeline, this);
    child.state = new ScopeState(child);
    return child;
  }

  private scope(): ScopeState {
    if (this.state === undefined) this.state = new ScopeState(this);
    return this.state;
  }

  get aborted(): boolean {
    if (this.state?.aborted === true) return true;
    if (this.parent !== undefined) return this.parent.aborted;
    return this.callerSignal?.aborted === true;
  }

  get abortReason(): unknown {
    if (this.state?.aborted === true) return this.state.reason;
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
    const existing = this.state?.controller;
    if (existing !== undefined) return existing.signal;
    // A root with a caller signal is aborted by nothing else: hand the caller's signal on as it is.
    if (this.parent === undefined && this.callerSignal !== undefined) return this.callerSignal;
    const controller = new AbortController();
    this.scope().controller = controller;
    if (this.aborted) controller.abort(this.abortReason);
    else this.link();
    return controller.signal;
  }

  /** Aborts this scope and every scope below it that is being watched. */
  abort(reason: unknown): void {
    const state = this.scope();
    if (state.aborted) return;
    state.aborted = true;
    state.reason = reason;
    state.controller?.abort(reason);
    const listeners = state.listeners;
    if (listeners !== undefined) {
      state.listeners = undefined;
      for (const listener of listeners) listener(reason);
    }
  }

  /** Calls `listener` once when this scope aborts; returns the unsubscribe function. */
  onAbort(listener: AbortListener): () => void {
    const state = this.scope();
    if (state.listeners === undefined) state.listeners = [];
    state.listeners.push(listener);
    this.link();
    return () => {
      const listeners = state.listeners;
      if (listeners === undefined) return;
      const index = listeners.indexOf(listener);
      if (index !== -1) listeners.splice(index, 1);
    };
  }

  /** Whether anything can abort this context: its own policy, or an ancestor that can. */
  private get abortable(): boolean {
    // A root is aborted only by its caller's signal (which `execute` watches); a fork by its owner.
    return this.parent !== undefined || this.callerSignal !== undefined;
  }

  private link(): void {
    const parent = this.parent;
    if (parent === undefined || !parent.abortable) return;
    const state = this.scope();
    if (state.unlinkParent !== undefined) return;
    state.unlinkParent = parent.onAbort((reason) => this.abort(reason));
  }

  /** Called when the scope's owner settles: stop listening to ancestors. */
  release(): void {
    const state = this.state;
    if (state === undefined) return;
    if (state.unlinkParent !== undefined) {
      state.unlinkParent();
      state.unlinkParent = undefined;
    }
    state.listeners = undefined;
  }
}
