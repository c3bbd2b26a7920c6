import { type Clock, systemClock } from '../clock/clock.js';
import { type TimerEntry, TimerQueue } from '../clock/timer-queue.js';
import { HedgeLostError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  fraction,
  func,
  given,
  integer,
  nameOption,
  oneOf,
  optionError,
  plainObject,
  positiveFinite,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import { errorCounts, type Outcome, type OutcomePredicate, valueCounts } from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import type { RetryBudget } from '../retry/budget.js';
import { LatencyEstimate } from './latency-estimate.js';
import { HEDGE_DEFAULTS, type HedgeEvent, type HedgeMode, type HedgeOptions } from './options.js';

export interface HedgePolicy extends Policy {
  /** The delay before a hedge now in force: `delayMs`, or the observed percentile (clamped). */
  readonly currentDelayMs: number;
  onHedge(listener: Listener<HedgeEvent>): Disposable;
}

const KNOWN = ['name', 'delayMs', 'delay', 'maxHedges', 'mode', 'budget', 'shouldHedge', 'clock'] as const;
const DELAY_KNOWN = ['percentile', 'windowMs', 'minSamples', 'initialMs', 'minMs', 'maxMs'];
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/** One call's hedge timer: an entry of the shared queue of its delay, never a timer of its own. */
interface HedgeTimer extends TimerEntry {
  fire: () => void;
}

function hedgeTimer(fire: () => void): HedgeTimer {
  return {
    expiresAt: 0,
    timerPrev: undefined,
    timerNext: undefined,
    timerQueued: false,
    fire,
    onExpire() {
      this.fire();
    },
  };
}

/**
 * Tail-latency hedging ("The Tail at Scale", Dean & Barroso, CACM 2013): when an attempt has not
 * answered after a delay, start another and take whichever answers first; the others' signals abort
 * with a `HedgeLostError`. The delay is fixed or follows a percentile of recent successful calls.
 */
export function hedge(options: HedgeOptions): HedgePolicy {
  checkOptions('hedge', options, KNOWN);
  const d = HEDGE_DEFAULTS;
  const name = nameOption('hedge', options.name, d.name);
  if ((options.delayMs === undefined) === (options.delay === undefined)) {
    throw new TypeError(
      'hedge: give exactly one of option "delayMs" (fixed) and option "delay" (observed percentile)',
    );
  }
  const maxHedges = integer('hedge', 'maxHedges', given(options.maxHedges, d.maxHedges), 1);
  const mode: HedgeMode = oneOf('hedge', 'mode', given(options.mode, d.mode), [
    'latency',
    'parallel',
    'fallback',
  ]);
  const budget = options.budget as RetryBudget | undefined;
  if (
    budget !== undefined &&
    (typeof budget !== 'object' || budget === null || typeof budget.tryAcquire !== 'function')
  ) {
    throw optionError('hedge', 'budget', 'a retryBudget (recordRequest and tryAcquire)', budget);
  }
  const shouldHedge =
    options.shouldHedge === undefined
      ? undefined
      : func<OutcomePredicate>('hedge', 'shouldHedge', options.shouldHedge);
  const clock: Clock = clockOption('hedge', options.clock, systemClock);

  let fixedMs: number | undefined;
  let estimate: LatencyEstimate | undefined;
  let initialMs = 0;
  let minMs: number = d.minMs;
  let maxMs = Number.POSITIVE_INFINITY;
  if (options.delayMs !== undefined) {
    fixedMs = finiteNumber('hedge', 'delayMs', options.delayMs);
  } else {
    const delay = plainObject('hedge', 'delay', options.delay);
    checkOptions('hedge.delay', delay, DELAY_KNOWN);
    const percentile = fraction('hedge.delay', 'percentile', delay.percentile);
    if (percentile === 1)
      throw optionError('hedge.delay', 'percentile', 'a number in (0, 1)', percentile, 'range');
    initialMs = finiteNumber('hedge.delay', 'initialMs', delay.initialMs);
    minMs = finiteNumber('hedge.delay', 'minMs', given(delay.minMs, d.minMs));
    if (delay.maxMs !== undefined) maxMs = finiteNumber('hedge.delay', 'maxMs', delay.maxMs);
    if (minMs > maxMs) throw optionError('hedge.delay', 'minMs', `<= maxMs (${maxMs})`, minMs, 'range');
    const windowMs = positiveFinite('hedge.delay', 'windowMs', given(delay.windowMs, d.windowMs));
    const minSamples = integer('hedge.delay', 'minSamples', given(delay.minSamples, d.minSamples), 1);
    estimate = new LatencyEstimate(percentile, windowMs, minSamples);
  }

  function currentDelay(): number {
    if (fixedMs !== undefined) return fixedMs;
    const observed = estimate!.value(clock.now());
    return Math.round(Math.min(maxMs, Math.max(minMs, observed ?? initialMs)));
  }

  // Calls waiting on the same delay share one queue and one clock timer (delays are whole ms).
  const queues = new Map<number, TimerQueue>();
  function queueFor(delay: number): TimerQueue {
    let queue = queues.get(delay);
    if (queue === undefined) {
      queue = new TimerQueue(clock);
      queues.set(delay, queue);
    }
    return queue;
  }

  const hedgeEvent = new EventSlot<HedgeEvent>('hedge', 'hedge');
  const attemptsAllowed = 1 + maxHedges;

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    if (!ctx.idempotent) return next(ctx);
    budget?.recordRequest();
    return new Promise((resolve, reject) => {
      const start = clock.now();
      const running: ExecutionContext[] = [];
      let launched = 0;
      let failed = 0;
      let primary: Outcome | undefined;
      let settled = false;
      let timer: HedgeTimer | undefined;
      let timerQueue: TimerQueue | undefined;

      const stopTimer = (): void => {
        if (timer !== undefined && timerQueue !== undefined) timerQueue.remove(timer);
      };

      const finish = (outcome: Outcome, winner: ExecutionContext | undefined): void => {
        settled = true;
        stopTimer();
        for (const attempt of running) {
          if (attempt !== winner) attempt.abort(new HedgeLostError({ policy: name }));
        }
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };

      /** Whether another attempt may start now: attempts left, the call alive, the budget willing. */
      const mayHedge = (): boolean =>
        launched < attemptsAllowed && !ctx.aborted && (budget === undefined || budget.tryAcquire());

      const launch = (delayMs: number): void => {
        const attempt = ctx.fork();
        const n = ++launched;
        attempt.attempt = n;
        running.push(attempt);
        if (n > 1 && hedgeEvent.active) {
          hedgeEvent.emit({ event: 'hedge', name, pipeline: ctx.pipeline, attempt: n, delayMs });
        }
        next(attempt).then(
          (value) => settle(attempt, n, { value }),
          (error: unknown) => settle(attempt, n, { error }),
        );
      };

      const armTimer = (): void => {
        const delay = currentDelay();
        timerQueue = queueFor(delay);
        timer ??= hedgeTimer(() => {
          if (settled || ctx.aborted) return;
          if (mayHedge()) launch(delay);
          if (launched < attemptsAllowed && !settled) armTimer();
        });
        timer.expiresAt = clock.now() + delay;
        timerQueue.add(timer);
      };

      const settle = (attempt: ExecutionContext, n: number, outcome: Outcome): void => {
        attempt.release();
        if (settled) return;
        const again =
          'error' in outcome
            ? errorCounts(ctx, outcome.error, shouldHedge)
            : valueCounts(ctx, outcome.value, shouldHedge);
        if (!again) {
          if (!('error' in outcome) && estimate !== undefined) {
            // The call's latency from its start: a fast hedge does not drag the estimate down.
            const now = clock.now();
            estimate.record(now - start, now);
          }
          finish(outcome, attempt);
          return;
        }
        if (n === 1) primary = outcome;
        failed++;
        // After a failure, latency and fallback modes start the next attempt at once.
        if (mode !== 'parallel' && mayHedge()) {
          launch(0);
          return;
        }
        if (failed === launched) finish(primary ?? outcome, undefined);
      };

      if (mode === 'parallel') {
        launch(0);
        while (!settled && mayHedge()) launch(0);
        return;
      }
      launch(0);
      if (mode === 'latency' && !settled) armTimer();
    });
  }

  return createPolicy(
    { name, kind: 'hedge', run: run as never },
    {
      trusted: true,
      meta: fixedMs === undefined ? {} : { hedgeDelayMs: fixedMs, maxHedges },
      now: () => clock.now(),
      api: {
        get currentDelayMs(): number {
          return currentDelay();
        },
        onHedge: (listener: Listener<HedgeEvent>) => hedgeEvent.on(listener),
      },
    },
  );
}
