import { systemClock, systemRandom } from '../clock/clock.js';
import { sleep } from '../clock/sleep.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  func,
  given,
  integer,
  nameOption,
  optionError,
  randomOption,
} from '../errors/validate.js';
import { EventSlot } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';

type Runner = (ctx: ExecutionContext) => Promise<unknown>;

import type { Disposable, Listener } from '../events/events.js';
import { createPolicy } from '../pipeline/create-policy.js';
import {
  errorCounts,
  isCircuitOpen,
  isNotRetryable,
  type OutcomePredicate,
  retryAfterOf,
  valueCounts,
} from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import type { Backoff } from './backoff.js';
import { budgetOption } from './budget.js';
import {
  type GiveUpEvent,
  type GiveUpReason,
  RETRY_DEFAULTS,
  type RetryEvent,
  type RetryOptions,
} from './options.js';

export interface RetryPolicy extends Policy {
  onRetry(listener: Listener<RetryEvent>): Disposable;
  onGiveUp(listener: Listener<GiveUpEvent>): Disposable;
}

const KNOWN = [
  'name',
  'maxAttempts',
  'backoff',
  'retryOn',
  'maxRetryAfterMs',
  'budget',
  'clock',
  'random',
] as const;

/** Repeats a failed call with a delay between attempts. */
export function retry(options: RetryOptions = {}): RetryPolicy {
  checkOptions('retry', options, KNOWN);
  const d = RETRY_DEFAULTS;
  const name = nameOption('retry', options.name, d.name);
  const maxAttempts = integer('retry', 'maxAttempts', given(options.maxAttempts, d.maxAttempts), 1, true);
  const schedule = given(options.backoff, d.backoff) as Backoff;
  if (typeof schedule !== 'object' || schedule === null || typeof schedule.delayMs !== 'function') {
    throw optionError(
      'retry',
      'backoff',
      'a backoff (backoff.constant/linear/exponential, or an object with a delayMs method)',
      options.backoff,
    );
  }
  const retryOn =
    options.retryOn === undefined ? undefined : func<OutcomePredicate>('retry', 'retryOn', options.retryOn);
  const maxRetryAfterMs = finiteNumber(
    'retry',
    'maxRetryAfterMs',
    given(options.maxRetryAfterMs, d.maxRetryAfterMs),
  );
  const budget = budgetOption('retry', options.budget);
  const clock = clockOption('retry', options.clock, systemClock);
  const random = randomOption('retry', options.random, systemRandom);

  const retryEvent = new EventSlot<RetryEvent>('retry', 'retry');
  const giveUpEvent = new EventSlot<GiveUpEvent>('retry', 'give-up');

  function giveUp(
    ctx: ExecutionContext,
    attempts: number,
    reason: GiveUpReason,
    failed: boolean,
    outcome: unknown,
  ): unknown {
    if (giveUpEvent.active) {
      giveUpEvent.emit({
        event: 'give-up',
        name,
        pipeline: ctx.pipeline,
        attempts,
        reason,
        ...(failed ? { error: outcome } : { value: outcome }),
      });
    }
    if (failed) throw outcome;
    return outcome;
  }

  /**
   * After an outcome retry may repeat: `{ done }` with the value to return (or throws the error)
   * when it gives up, or `{ delay }` once the wait before the next attempt is over.
   */
  async function afterFailure(
    ctx: ExecutionContext,
    attempt: number,
    failed: boolean,
    outcome: unknown,
    previousDelay: number | undefined,
  ) {
    if (attempt >= maxAttempts) return { done: giveUp(ctx, attempt, 'max-attempts', failed, outcome) };
    if (!ctx.idempotent) return { done: giveUp(ctx, attempt, 'not-idempotent', failed, outcome) };
    if (failed && isNotRetryable(outcome)) {
      return { done: giveUp(ctx, attempt, 'not-retryable', failed, outcome) };
    }
    let delay = schedule.delayMs(attempt, previousDelay, random);
    const retryAfter = retryAfterOf(outcome);
    if (failed && isCircuitOpen(outcome)) {
      // An open circuit is waited out only when it lets calls through again before the next
      // attempt was due anyway: a caller is never held for a breaker's whole open period.
      if (retryAfter === undefined || retryAfter > delay) {
        return { done: giveUp(ctx, attempt, 'circuit-open', failed, outcome) };
      }
    } else if (retryAfter !== undefined) {
      if (retryAfter > maxRetryAfterMs)
        return { done: giveUp(ctx, attempt, 'retry-after-too-long', failed, outcome) };
      if (retryAfter > delay) delay = retryAfter;
    }
    if (ctx.deadline !== undefined && clock.now() + delay >= ctx.deadline) {
      return { done: giveUp(ctx, attempt, 'deadline', failed, outcome) };
    }
    // Last: an attempt that would not be made anyway takes nothing from the budget.
    if (budget !== undefined && !budget.tryAcquire()) {
      return { done: giveUp(ctx, attempt, 'budget', failed, outcome) };
    }
    if (retryEvent.active) {
      retryEvent.emit({
        event: 'retry',
        name,
        pipeline: ctx.pipeline,
        attempt,
        delayMs: delay,
        ...(failed ? { error: outcome } : { value: outcome }),
      });
    }
    // A zero delay goes straight to the next attempt: no timer.
    if (delay > 0) await sleep(clock, delay, ctx);
    return { delay };
  }

  /** Whether an error is one retry may repeat; once the scope is aborted nothing more is attempted. */
  function retryableError(ctx: ExecutionContext, error: unknown): boolean {
    return !ctx.aborted && errorCounts(ctx, error, retryOn);
  }

  /** Attempts after the first: the slow path, where an async loop costs nothing that matters. */
  async function retryLoop(
    ctx: ExecutionContext,
    next: Runner,
    failed: boolean,
    first: unknown,
  ): Promise<unknown> {
    let outcome = first;
    let previousDelay: number | undefined;
    // Counted here, not on ctx: a retry nested in another must not move the outer one's count.
    for (let attempt = 1; ; ) {
      const step = await afterFailure(ctx, attempt, failed, outcome, previousDelay);
      if ('done' in step) return step.done;
      // The caller (or a timeout around us) may have aborted during the last attempt, in an
      // onRetry listener or while no delay ran: then no attempt is started.
      if (ctx.aborted) throw ctx.abortReason;
      previousDelay = step.delay;
      ctx.attempt = ++attempt;
      let value: unknown;
      try {
        value = await next(ctx);
      } catch (error) {
        if (!retryableError(ctx, error)) throw error;
        failed = true;
        outcome = error;
        continue;
      }
      // Outside the try: an exception from retryOn itself is the caller's, not an attempt's failure.
      if (!retryableValue(ctx, value)) return value;
      failed = false;
      outcome = value;
    }
  }

  function retryableValue(ctx: ExecutionContext, value: unknown): boolean {
    if (!valueCounts(ctx, value, retryOn)) return false;
    if (ctx.aborted) throw ctx.abortReason;
    return true;
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    ctx.attempt = 1;
    budget?.recordRequest();
    const first = next(ctx);
    const onError = (error: unknown): unknown =>
      retryableError(ctx, error) ? retryLoop(ctx, next, true, error) : Promise.reject(error);
    if (retryOn === undefined) return first.then(undefined, onError);
    return first.then(
      (value) => (retryableValue(ctx, value) ? retryLoop(ctx, next, false, value) : value),
      onError,
    );
  }

  return createPolicy(
    { name, kind: 'retry', run: run as never },
    {
      trusted: true,
      meta: { maxAttempts },
      now: () => clock.now(),
      api: {
        onRetry: (listener: Listener<RetryEvent>) => retryEvent.on(listener),
        onGiveUp: (listener: Listener<GiveUpEvent>) => giveUpEvent.on(listener),
      },
    },
  );
}
