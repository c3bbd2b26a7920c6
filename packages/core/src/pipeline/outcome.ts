import type { ExecutionContext, PolicyContext } from './context.js';

/** What a call produced: tell the two apart with `'error' in outcome`. */
export type Outcome<T = unknown> = { readonly error: unknown } | { readonly value: T };

/** Decides synchronously whether an outcome counts (as a failure, as retryable, …). */
export type OutcomePredicate<T = unknown> = (outcome: Outcome<T>, ctx: PolicyContext) => boolean;

/** `retryAfterMs` carried by an error or a value, when it is a finite, non-negative number. */
export function retryAfterOf(outcome: unknown): number | undefined {
  if (typeof outcome !== 'object' || outcome === null) return undefined;
  const ms = (outcome as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && ms >= 0 && Number.isFinite(ms) ? ms : undefined;
}

/** An error that says it must not be repeated (`retryable: false`). */
export function isNotRetryable(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false
  );
}

/**
 * The default rule of every outcome predicate: an error counts unless it is the caller's own abort;
 * among the rest, `predicate` decides when given.
 */
export function errorCounts(
  ctx: ExecutionContext,
  error: unknown,
  predicate: OutcomePredicate | undefined,
): boolean {
  return !ctx.isCallerAbort(error) && (predicate === undefined || predicate({ error }, ctx));
}
