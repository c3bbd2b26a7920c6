import { isBreakwaterError } from '../errors/errors.js';
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

/** A rejection from an open (or isolated) circuit, from this copy of core or any other. */
export function isCircuitOpen(error: unknown): boolean {
  return isBreakwaterError(error) && error.code === 'BW_CIRCUIT_OPEN';
}

/**
 * The default rule of every outcome predicate: once the caller's signal has aborted nothing counts
 * (the outcome is the caller's abort, whatever fn threw); otherwise an error counts unless
 * `predicate` says it does not.
 */
export function errorCounts(
  ctx: ExecutionContext,
  error: unknown,
  predicate: OutcomePredicate | undefined,
): boolean {
  return !ctx.callerAborted && (predicate === undefined || predicate({ error }, ctx));
}

/** A value counts only where `predicate` says so, and never once the caller has aborted. */
export function valueCounts(
  ctx: ExecutionContext,
  value: unknown,
  predicate: OutcomePredicate | undefined,
): boolean {
  return predicate !== undefined && !ctx.callerAborted && predicate({ value }, ctx);
}
