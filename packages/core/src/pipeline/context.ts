import type { TimerEntry } from '../clock/timer-queue.js';
import { optionError } from '../errors/validate.js';

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
  /**
   * Inside a `cache` load, what the loader may change of the entry it makes: assign `ttlMs` or
   * `tags` before returning. `undefined` outside a load.
   */
  readonly cache: CacheControl | undefined;
  /**
   * The quota a `rateLimit` admitted the call under, when its limiter tells it (`limits.tokenBucket`,
   * `redisRateLimiter`): what the HTTP adapters turn into `RateLimit` headers. `undefined` otherwise.
   */
  readonly rateLimit: RateLimitQuota | undefined;
}

/** What a limiter tells of its quota with an answer (for `RateLimit` headers). */
export interface RateLimitQuota {
  /** Units the quota holds when full (a token bucket's `burst`). */
  readonly limit: number;
  /** How long an empty quota takes to fill, ms: the window of `limit`. */
  readonly windowMs: number;
  /** Units left after this call. */
  readonly remaining: number;
  /** Until the quota is full again, ms. */
  readonly resetMs: number;
}

/** What a loader may set of the cache entry it is making. */
export interface CacheControl {
  /** This entry's TTL, in place of the policy's `ttlMs`. */
  ttlMs?: number | undefined;
  /** This entry's tags, in place of the policy's `tags`. */
  tags?: string[] | undefined;
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
  declare cache: CacheControl | undefined;
  declare rateLimit: RateLimitQuota | undefined;
  /** The user's function, called at the end of the pipeline. */
  declare fn: (ctx: PolicyContext) => unknown;
  declare readonly parent: ExecutionContext | undefined;
  /** The caller's `options.signal`, shared by every context of the call. */
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
    this.cache = parent === undefined ? undefined : parent.cache;
    this.rateLimit = parent === undefined ? undefined : parent.rateLimit;
    this.fn = fn;
    this.parent = parent;
    this.callerSignal = parent === undefined ? options?.signal : parent.callerSignal;
    this.state = undefined;
  }

  /**
   * A child context with other per-call fields, for a custom policy that passes `next` a changed
   * context. Cancellation stays the call's: the child aborts with this context. A deadline can only
   * come earlier.
   */
  derive(changes: Partial<PolicyContext>): ExecutionContext {
    const child = new ExecutionContext(this.fn, undefined, this.pipeline, this);
    if (changes.attempt !== undefined) child.attempt = changes.attempt;
    if (changes.deadline !== undefined && (child.deadline === undefined || changes.deadline < child.deadline))
      child.deadline = changes.deadline;
    if (changes.key !== undefined) child.key = changes.key;
    if (changes.priority !== undefined) child.priority = changes.priority;
    if (changes.idempotencyKey !== undefined) child.idempotencyKey = changes.idempotencyKey;
    if (changes.fingerprint !== undefined) child.fingerprint = changes.fingerprint;
    if (changes.idempotent !== undefined) child.idempotent = changes.idempotent;
    return child;
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
    return this.callerAborted;
  }

  get abortReason(): unknown {
    if (this.state?.aborted === true) return this.state.reason;
    if (this.parent !== undefined) return this.parent.abortReason;
    return this.callerSignal?.reason;
  }

  /**
   * Whether the caller's signal has aborted. Then the outcome is the caller's, whatever error the
   * work happened to throw (many APIs reject with an AbortError of their own, not `signal.reason`):
   * it never counts as a failure, is never retried and never falls back.
   */
  get callerAborted(): boolean {
    return this.callerSignal?.aborted === true;
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

/** Every priority, most important first. */
export const PRIORITIES: readonly Priority[] = ['critical', 'default', 'sheddable'];

function isSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}

/**
 * Checks `execute`'s per-call options; returns the error to reject with, or `undefined`. A few
 * `typeof` tests per call: cheap enough for the hot path, and a typo'd deadline never passes silently.
 */
export function checkExecuteOptions(policy: string, options: unknown): TypeError | RangeError | undefined {
  const where = `${policy}.execute`;
  if (typeof options !== 'object' || options === null)
    return optionError(where, 'options', 'an object', options);
  if (isSignal(options)) {
    // cockatiel's `execute(fn, signal)`: the signal would otherwise be ignored without a word.
    return new TypeError(`${where}: options must be an object; pass the signal as { signal }`);
  }
  const o = options as ExecuteOptions;
  if (o.signal !== undefined && !isSignal(o.signal))
    return optionError(where, 'signal', 'an AbortSignal', o.signal);
  const deadline = o.deadline;
  if (deadline !== undefined) {
    if (typeof deadline !== 'number') return optionError(where, 'deadline', 'a number (epoch ms)', deadline);
    if (Number.isNaN(deadline))
      return optionError(where, 'deadline', 'a number (epoch ms)', deadline, 'range');
  }
  if (o.priority !== undefined && !PRIORITIES.includes(o.priority)) {
    return optionError(where, 'priority', `one of ${PRIORITIES.map((p) => `'${p}'`).join(', ')}`, o.priority);
  }
  if (o.key !== undefined && typeof o.key !== 'string') return optionError(where, 'key', 'a string', o.key);
  if (o.idempotencyKey !== undefined && typeof o.idempotencyKey !== 'string')
    return optionError(where, 'idempotencyKey', 'a string', o.idempotencyKey);
  if (o.fingerprint !== undefined && typeof o.fingerprint !== 'string')
    return optionError(where, 'fingerprint', 'a string', o.fingerprint);
  if (o.idempotent !== undefined && typeof o.idempotent !== 'boolean')
    return optionError(where, 'idempotent', 'a boolean', o.idempotent);
  return undefined;
}
