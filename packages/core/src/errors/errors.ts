import type { RateLimitQuota } from '../pipeline/context.js';

const BRAND = Symbol.for('breakwater.error');
const REJECTED_BRAND = Symbol.for('breakwater.rejected');

/** Stable codes of every error Breakwater raises while running. */
export type BreakwaterErrorCode =
  | 'BW_TIMEOUT'
  | 'BW_CIRCUIT_OPEN'
  | 'BW_BULKHEAD_FULL'
  | 'BW_RATE_LIMITED'
  | 'BW_OVERLOADED'
  | 'BW_THROTTLED'
  | 'BW_IDEMPOTENCY_CONFLICT'
  | 'BW_IDEMPOTENCY_MISMATCH'
  | 'BW_STORE_UNAVAILABLE'
  | 'BW_HTTP_STATUS'
  | 'BW_CHAOS'
  | 'BW_HEDGE_LOST'
  | (string & {});

export interface BreakwaterErrorOptions {
  cause?: unknown;
  /** How long the caller should wait before trying again, when Breakwater knows. */
  retryAfterMs?: number | undefined;
  /** `false` tells retry and hedge not to repeat the call. */
  retryable?: boolean | undefined;
  /** Name of the policy that raised the error. */
  policy?: string | undefined;
}

/**
 * Base of every error Breakwater raises while running. Match with `isBreakwaterError(e)` and `e.code`:
 * the brand is a `Symbol.for` so the check survives two installed copies of the package.
 */
export class BreakwaterError extends Error {
  readonly code: BreakwaterErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean | undefined;
  readonly policy: string | undefined;

  constructor(code: BreakwaterErrorCode, message: string, options: BreakwaterErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.retryable = options.retryable;
    this.policy = options.policy;
  }

  override get name(): string {
    return this.constructor.name;
  }

  get [BRAND](): true {
    return true;
  }
}

/** A call Breakwater refused or cut short: open circuit, full bulkhead, shed, rate limited, timed out. */
export class RejectedError extends BreakwaterError {
  get [REJECTED_BRAND](): true {
    return true;
  }
}

export interface TimeoutErrorOptions extends BreakwaterErrorOptions {
  /** The call's deadline, not the policy's own `ms`, set the limit. */
  fromDeadline?: boolean | undefined;
}

export class TimeoutError extends RejectedError {
  /** The time the call was given (0 when its deadline had passed before it started). */
  readonly timeoutMs: number;
  /** Whether the call's deadline, rather than the timeout's own `ms`, set the limit. */
  readonly fromDeadline: boolean;
  constructor(timeoutMs: number, options: TimeoutErrorOptions = {}) {
    const fromDeadline = options.fromDeadline === true;
    const message = !fromDeadline
      ? `Operation timed out after ${timeoutMs} ms`
      : timeoutMs <= 0
        ? 'The deadline of the call had already passed when it started'
        : `Operation timed out after ${timeoutMs} ms, at the deadline of the call`;
    super('BW_TIMEOUT', message, options);
    this.timeoutMs = timeoutMs;
    this.fromDeadline = fromDeadline;
  }
}

export class CircuitOpenError extends RejectedError {
  /** `true` when the circuit was opened by hand with `isolate()`. */
  readonly isolated: boolean;
  constructor(isolated: boolean, options: BreakwaterErrorOptions = {}) {
    super(
      'BW_CIRCUIT_OPEN',
      isolated ? 'Circuit is isolated: calls are refused until it is released' : 'Circuit is open',
      options,
    );
    this.isolated = isolated;
  }
}

export class BulkheadFullError extends RejectedError {
  readonly maxConcurrent: number;
  readonly maxQueue: number;
  constructor(
    maxConcurrent: number,
    maxQueue: number,
    message: string,
    options: BreakwaterErrorOptions = {},
  ) {
    super('BW_BULKHEAD_FULL', message, options);
    this.maxConcurrent = maxConcurrent;
    this.maxQueue = maxQueue;
  }
}

/**
 * Refused to protect an overloaded downstream or this process: shed (`BW_OVERLOADED`) or throttled
 * on the client side (`BW_THROTTLED`). `retryAfterMs` says when trying again is worth it.
 */
export class OverloadedError extends RejectedError {
  constructor(code: 'BW_OVERLOADED' | 'BW_THROTTLED', message: string, options: BreakwaterErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A call with the same idempotency key is still running; `retryAfterMs` says when to ask again. */
export class IdempotencyConflictError extends RejectedError {
  readonly idempotencyKey: string;
  constructor(idempotencyKey: string, options: BreakwaterErrorOptions = {}) {
    super('BW_IDEMPOTENCY_CONFLICT', 'A request with this idempotency key is still being processed', options);
    this.idempotencyKey = idempotencyKey;
  }
}

/** The idempotency key was used before with another fingerprint (another payload). Never retryable. */
export class IdempotencyMismatchError extends RejectedError {
  readonly idempotencyKey: string;
  constructor(idempotencyKey: string, options: BreakwaterErrorOptions = {}) {
    super('BW_IDEMPOTENCY_MISMATCH', 'This idempotency key was already used with a different request', {
      ...options,
      retryable: false,
    });
    this.idempotencyKey = idempotencyKey;
  }
}

/** A store a policy needs to keep its promise could not be reached; the call was not run. */
export class StoreUnavailableError extends RejectedError {
  constructor(message: string, options: BreakwaterErrorOptions = {}) {
    super('BW_STORE_UNAVAILABLE', message, options);
  }
}

/** A rate limit refused the call; `retryAfterMs` is when it would pass. */
export class RateLimitedError extends RejectedError {
  /** The quota the call was refused under, when the limiter tells it. */
  readonly quota: RateLimitQuota | undefined;
  constructor(
    message: string,
    options: BreakwaterErrorOptions & { quota?: RateLimitQuota | undefined } = {},
  ) {
    super('BW_RATE_LIMITED', message, options);
    this.quota = options.quota;
  }
}

/** The reason a hedge aborts the attempts that lost the race: another attempt answered first. */
export class HedgeLostError extends BreakwaterError {
  constructor(options: BreakwaterErrorOptions = {}) {
    super('BW_HEDGE_LOST', 'Another attempt answered first', options);
  }
}

/** Injected by a `chaos.fault` policy when it is given no error of its own. */
export class ChaosError extends BreakwaterError {
  constructor(options: BreakwaterErrorOptions = {}) {
    super('BW_CHAOS', 'Fault injected by a chaos policy', options);
  }
}

export function isBreakwaterError(value: unknown): value is BreakwaterError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export function isRejectedError(value: unknown): value is RejectedError {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[REJECTED_BRAND] === true
  );
}
