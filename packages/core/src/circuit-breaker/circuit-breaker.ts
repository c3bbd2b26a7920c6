import { systemClock, systemRandom } from '../clock/clock.js';
import { CircuitOpenError } from '../errors/errors.js';
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
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import type { Backoff } from '../retry/backoff.js';
import type { Breaker } from './breakers.js';
import {
  type BreakerRejectEvent,
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerOptions,
  type CircuitState,
  type StateChangeEvent,
} from './options.js';

export interface CircuitBreakerPolicy extends Policy {
  /** The current state; an open circuit whose wait is over reads as `'half-open'`. */
  readonly state: CircuitState;
  /** Holds the circuit open until every returned handle is disposed (then it closes). */
  isolate(): Disposable;
  /** Closes the circuit and forgets what was counted (also ends isolation). */
  reset(): void;
  onStateChange(listener: Listener<StateChangeEvent>): Disposable;
  onReject(listener: Listener<BreakerRejectEvent>): Disposable;
}

const KNOWN = [
  'name',
  'breaker',
  'halfOpenAfterMs',
  'halfOpenMaxCalls',
  'isFailure',
  'clock',
  'random',
] as const;

type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/** Stops calling a downstream that keeps failing, and probes it again after a while. */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  checkOptions('circuitBreaker', options, KNOWN);
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const name = nameOption('circuitBreaker', options.name, d.name);
  const breaker = given(options.breaker, d.breaker) as Breaker;
  if (typeof breaker !== 'object' || breaker === null || typeof breaker.create !== 'function') {
    throw optionError('circuitBreaker', 'breaker', 'a breaker (breakers.consecutive/count)', options.breaker);
  }
  const halfOpenOption = given(options.halfOpenAfterMs, d.halfOpenAfterMs);
  let halfOpenDelay: (openings: number, previous: number | undefined) => number;
  if (typeof halfOpenOption === 'number') {
    const ms = finiteNumber('circuitBreaker', 'halfOpenAfterMs', halfOpenOption);
    halfOpenDelay = () => ms;
  } else if (
    typeof halfOpenOption === 'object' &&
    halfOpenOption !== null &&
    typeof (halfOpenOption as Partial<Backoff>).delayMs === 'function'
  ) {
    const schedule: Backoff = halfOpenOption;
    halfOpenDelay = (openings, previous) => schedule.delayMs(openings, previous, random);
  } else {
    throw optionError(
      'circuitBreaker',
      'halfOpenAfterMs',
      'a number of ms or a backoff (an object with a delayMs(n, previousMs, random) method)',
      halfOpenOption,
    );
  }
  const halfOpenMaxCalls = integer(
    'circuitBreaker',
    'halfOpenMaxCalls',
    given(options.halfOpenMaxCalls, d.halfOpenMaxCalls),
    1,
  );
  const isFailure =
    options.isFailure === undefined
      ? undefined
      : func<OutcomePredicate>('circuitBreaker', 'isFailure', options.isFailure);
  const clock = clockOption('circuitBreaker', options.clock, systemClock);
  const random = randomOption('circuitBreaker', options.random, systemRandom);

  const window = breaker.create();
  const stateChange = new EventSlot<StateChangeEvent>('circuit-breaker', 'state-change');
  const rejectEvent = new EventSlot<BreakerRejectEvent>('circuit-breaker', 'reject');

  let state: CircuitState = 'closed';
  /** Bumped on every transition: a result from an older generation is ignored. */
  let generation = 0;
  let openUntil = 0;
  let openings = 0;
  let lastOpenMs: number | undefined;
  let trialsInFlight = 0;
  let trialSuccesses = 0;
  let isolations = 0;
  /** Bumped by `reset()`: an isolation handle from before it is inert. */
  let isolationEpoch = 0;
  let lastPipeline: string | undefined;

  /** The success handler of calls started in the current generation (see `run`'s fast path). */
  let successInGeneration = successHandler(0);

  function transition(to: CircuitState): void {
    const from = state;
    state = to;
    generation++;
    successInGeneration = successHandler(generation);
    if (stateChange.active && from !== to) {
      stateChange.emit({ event: 'state-change', name, pipeline: lastPipeline, from, to });
    }
  }

  function open(now: number): void {
    openings++;
    lastOpenMs = halfOpenDelay(openings, lastOpenMs);
    openUntil = now + lastOpenMs;
    transition('open');
  }

  function close(): void {
    openings = 0;
    lastOpenMs = undefined;
    window.reset();
    transition('closed');
  }

  /** Moves an open circuit whose wait is over to half-open. */
  function refresh(now: number): void {
    if (state === 'open' && now >= openUntil) {
      trialsInFlight = 0;
      trialSuccesses = 0;
      transition('half-open');
    }
  }

  function reject(ctx: ExecutionContext, retryAfterMs: number | undefined): never {
    if (rejectEvent.active) {
      rejectEvent.emit({ event: 'reject', name, pipeline: ctx.pipeline, state, retryAfterMs });
    }
    throw new CircuitOpenError(state === 'isolated', { policy: name, retryAfterMs });
  }

  function record(startedIn: number, trial: boolean, failed: boolean | undefined): void {
    if (startedIn !== generation) return; // a late result from an earlier state
    if (trial) trialsInFlight--;
    if (failed === undefined) return; // the caller gave up: that says nothing of the downstream
    if (state === 'closed') {
      if (!failed) window.success(0);
      else {
        const now = clock.now();
        if (window.failure(now)) open(now);
      }
    } else if (state === 'half-open') {
      if (failed) open(clock.now());
      else if (++trialSuccesses >= halfOpenMaxCalls) close();
    }
  }

  /**
   * Whether an outcome is a failure, or `undefined` when it says nothing of the downstream: the
   * caller aborted (whatever fn then threw or returned), or `isFailure` itself threw. A throwing
   * predicate still frees the call's trial slot, and its error reaches the caller.
   */
  function classify(
    ctx: ExecutionContext,
    startedIn: number,
    trial: boolean,
    outcome: { error: unknown } | { value: unknown },
  ): boolean | undefined {
    if (ctx.callerAborted) return undefined;
    if (isFailure === undefined) return 'error' in outcome;
    try {
      return isFailure(outcome, ctx);
    } catch (predicateError) {
      record(startedIn, trial, undefined);
      throw predicateError;
    }
  }

  function successHandler(startedIn: number): (value: unknown) => unknown {
    return (value) => {
      record(startedIn, false, false);
      return value;
    };
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    lastPipeline = ctx.pipeline;
    if (state !== 'closed') {
      try {
        admit(ctx);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const trial = state === 'half-open';
    if (trial) trialsInFlight++;
    const startedIn = generation;
    // A plain success outside a trial needs no per-call state: its handler is made once per generation.
    const onValue =
      trial || isFailure !== undefined || ctx.callerSignal !== undefined
        ? (value: unknown) => {
            record(startedIn, trial, classify(ctx, startedIn, trial, { value }));
            return value;
          }
        : successInGeneration;
    return next(ctx).then(onValue, (error: unknown) => {
      record(startedIn, trial, classify(ctx, startedIn, trial, { error }));
      throw error;
    });
  }

  /** Lets a call through a circuit that is not closed, or throws `CircuitOpenError`. */
  function admit(ctx: ExecutionContext): void {
    if (state === 'isolated') reject(ctx, undefined);
    const now = clock.now();
    refresh(now);
    if (state === 'open') reject(ctx, openUntil - now);
    if (trialsInFlight >= halfOpenMaxCalls) reject(ctx, undefined);
  }

  const api = {
    get state(): CircuitState {
      refresh(clock.now());
      return state;
    },
    isolate(): Disposable {
      isolations++;
      if (state !== 'isolated') transition('isolated');
      const epoch = isolationEpoch;
      let released = false;
      const dispose = (): void => {
        if (released || epoch !== isolationEpoch) return;
        released = true;
        isolations--;
        if (isolations === 0 && state === 'isolated') close();
      };
      return { dispose, [Symbol.dispose]: dispose };
    },
    reset(): void {
      isolations = 0;
      isolationEpoch++;
      close();
    },
    onStateChange: (listener: Listener<StateChangeEvent>) => stateChange.on(listener),
    onReject: (listener: Listener<BreakerRejectEvent>) => rejectEvent.on(listener),
  };

  return createPolicy(
    { name, kind: 'circuit-breaker', run: run as never },
    { trusted: true, now: () => clock.now(), api },
  );
}
