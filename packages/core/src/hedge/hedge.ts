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
import { budgetOption, type RetryBudget } from '../retry/budget.js';
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
  const budget = budgetOption('hedge', options.budget);
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
  const config: HedgeConfig = {
    name,
    mode,
    attemptsAllowed: 1 + maxHedges,
    budget,
    shouldHedge,
    clock,
    estimate,
    hedgeEvent,
    currentDelay,
    queueFor,
  };

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    if (!ctx.idempotent) return next(ctx);
    budget?.recordRequest();
    return new HedgeCall(config, ctx, next).promise;
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

interface HedgeConfig {
  readonly name: string;
  readonly mode: HedgeMode;
  readonly attemptsAllowed: number;
  readonly budget: RetryBudget | undefined;
  readonly shouldHedge: OutcomePredicate | undefined;
  readonly clock: Clock;
  readonly estimate: LatencyEstimate | undefined;
  readonly hedgeEvent: EventSlot<HedgeEvent>;
  readonly currentDelay: () => number;
  readonly queueFor: (delay: number) => TimerQueue;
}

/**
 * One hedged call: its attempts, its outcome, and its entry in the shared timer queue of its delay.
 * A class rather than closures: a call that answers before the delay allocates this one object, the
 * primary's scope and its promise.
 */
class HedgeCall implements TimerEntry {
  readonly promise: Promise<unknown>;
  private resolve!: (value: unknown) => void;
  private reject!: (error: unknown) => void;
  private readonly start: number;
  private readonly running: ExecutionContext[] = [];
  private launched = 0;
  private failed = 0;
  private primary: Outcome | undefined;
  private settled = false;
  private delay = 0;
  private queue: TimerQueue | undefined;
  // TimerEntry
  expiresAt = 0;
  timerPrev: TimerEntry | undefined = undefined;
  timerNext: TimerEntry | undefined = undefined;
  timerQueued = false;

  constructor(
    private readonly config: HedgeConfig,
    private readonly ctx: ExecutionContext,
    private readonly next: Runner,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.start = config.clock.now();
    if (config.mode === 'parallel') {
      this.launch(0);
      while (!this.settled && this.mayHedge()) this.launch(0);
      return;
    }
    this.launch(0);
    if (config.mode === 'latency' && !this.settled) this.arm();
  }

  /** Whether another attempt may start now: attempts left, the call alive, the budget willing. */
  private mayHedge(): boolean {
    const { attemptsAllowed, budget } = this.config;
    return (
      this.launched < attemptsAllowed && !this.ctx.aborted && (budget === undefined || budget.tryAcquire())
    );
  }

  private launch(delayMs: number): void {
    const attempt = this.ctx.fork();
    const n = ++this.launched;
    attempt.attempt = n;
    this.running.push(attempt);
    const { hedgeEvent } = this.config;
    if (n > 1 && hedgeEvent.active) {
      hedgeEvent.emit({
        event: 'hedge',
        name: this.config.name,
        pipeline: this.ctx.pipeline,
        attempt: n,
        delayMs,
      });
    }
    this.next(attempt).then(
      (value) => this.settle(attempt, n, { value }),
      (error: unknown) => this.settle(attempt, n, { error }),
    );
  }

  private arm(): void {
    this.delay = this.config.currentDelay();
    this.queue = this.config.queueFor(this.delay);
    this.expiresAt = this.config.clock.now() + this.delay;
    this.queue.add(this);
  }

  onExpire(): void {
    if (this.settled || this.ctx.aborted) return;
    if (this.mayHedge()) this.launch(this.delay);
    if (this.launched < this.config.attemptsAllowed && !this.settled) this.arm();
  }

  private finish(outcome: Outcome, winner: ExecutionContext | undefined): void {
    this.settled = true;
    this.queue?.remove(this);
    for (const attempt of this.running) {
      if (attempt !== winner) attempt.abort(new HedgeLostError({ policy: this.config.name }));
    }
    if ('error' in outcome) this.reject(outcome.error);
    else this.resolve(outcome.value);
  }

  private settle(attempt: ExecutionContext, n: number, outcome: Outcome): void {
    attempt.release();
    if (this.settled) return;
    const { shouldHedge, estimate, clock } = this.config;
    const again =
      'error' in outcome
        ? errorCounts(this.ctx, outcome.error, shouldHedge)
        : valueCounts(this.ctx, outcome.value, shouldHedge);
    if (!again) {
      if (!('error' in outcome) && estimate !== undefined) {
        // The call's latency from its start: a fast hedge does not drag the estimate down.
        const now = clock.now();
        estimate.record(now - this.start, now);
      }
      this.finish(outcome, attempt);
      return;
    }
    if (n === 1) this.primary = outcome;
    this.failed++;
    // After a failure, latency and fallback modes start the next attempt at once.
    if (this.config.mode !== 'parallel' && this.mayHedge()) {
      this.launch(0);
      return;
    }
    if (this.failed === this.launched) this.finish(this.primary ?? outcome, undefined);
  }
}
