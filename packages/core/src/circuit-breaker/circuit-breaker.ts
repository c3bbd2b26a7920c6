import { randomUUID } from 'node:crypto';
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
  positiveFinite,
  randomOption,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import { CIRCUIT_STATE_VALUES, GAUGES, registerGauges } from '../events/gauges.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Outcome, OutcomePredicate } from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import type { Backoff } from '../retry/backoff.js';
import type { BreakerRecord, BreakerStateStore } from '../stores/breaker-state-store.js';
import type { Breaker } from './breakers.js';
import {
  type BreakerRejectEvent,
  CIRCUIT_BREAKER_DEFAULTS,
  type CircuitBreakerOptions,
  type CircuitSnapshot,
  type CircuitState,
  type StateChangeEvent,
  type StateChangeReason,
  type StoreErrorEvent,
} from './options.js';
import { readSnapshot } from './snapshot.js';

export interface CircuitBreakerPolicy extends Policy {
  /** The current state; an open circuit whose wait is over reads as `'half-open'`. */
  readonly state: CircuitState;
  /** Holds the circuit open until every returned handle is disposed (then it closes). */
  isolate(): Disposable;
  /** Closes the circuit and forgets what was counted (also ends isolation). */
  reset(): void;
  /** A plain, versioned snapshot of the state, for `initialState` (counts are not included). */
  toJSON(): CircuitSnapshot;
  onStateChange(listener: Listener<StateChangeEvent>): Disposable;
  /** The circuit opened (`reason` and `error` say why). */
  onBreak(listener: Listener<StateChangeEvent>): Disposable;
  /** The circuit closed. */
  onReset(listener: Listener<StateChangeEvent>): Disposable;
  /** The circuit lets trial calls through. */
  onHalfOpen(listener: Listener<StateChangeEvent>): Disposable;
  onReject(listener: Listener<BreakerRejectEvent>): Disposable;
  /** A `store` call failed; the breaker carries on with its own state. */
  onStoreError(listener: Listener<StoreErrorEvent>): Disposable;
  /** Stops listening to the store (a breaker without one has nothing to let go of). */
  dispose(): void;
  [Symbol.dispose](): void;
}

const KNOWN = [
  'name',
  'breaker',
  'halfOpenAfterMs',
  'halfOpenMaxCalls',
  'isFailure',
  'initialState',
  'store',
  'trialLeaseMs',
  'clock',
  'random',
] as const;

type Runner = (ctx: ExecutionContext) => Promise<unknown>;

function checkStore(value: unknown): BreakerStateStore | undefined {
  if (value === undefined) return undefined;
  const store = value as Partial<BreakerStateStore> | null;
  const methods = ['get', 'set', 'subscribe', 'acquireTrial', 'releaseTrial'] as const;
  if (typeof store !== 'object' || store === null || methods.some((m) => typeof store[m] !== 'function')) {
    throw optionError('circuitBreaker', 'store', `a BreakerStateStore (${methods.join(', ')})`, value);
  }
  return store as BreakerStateStore;
}

function isRecord(value: unknown): value is BreakerRecord {
  const r = value as Partial<BreakerRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    (r.state === 'closed' || r.state === 'open' || r.state === 'isolated') &&
    Number.isFinite(r.openUntil) &&
    Number.isInteger(r.openings) &&
    Number.isInteger(r.version)
  );
}

/** Stops calling a downstream that keeps failing, and probes it again after a while. */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreakerPolicy {
  checkOptions('circuitBreaker', options, KNOWN);
  const d = CIRCUIT_BREAKER_DEFAULTS;
  const name = nameOption('circuitBreaker', options.name, d.name);
  const breaker = given(options.breaker, d.breaker) as Breaker;
  if (typeof breaker !== 'object' || breaker === null || typeof breaker.create !== 'function') {
    throw optionError(
      'circuitBreaker',
      'breaker',
      'a breaker (breakers.consecutive/count/time)',
      options.breaker,
    );
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
  const store = checkStore(options.store);
  const trialLeaseMs = positiveFinite(
    'circuitBreaker',
    'trialLeaseMs',
    given(options.trialLeaseMs, d.trialLeaseMs),
  );
  const clock = clockOption('circuitBreaker', options.clock, systemClock);
  const random = randomOption('circuitBreaker', options.random, systemRandom);
  const initial = options.initialState === undefined ? undefined : readSnapshot(name, options.initialState);

  const measures = breaker.measures === true;
  const usesClock = breaker.usesClock === true;
  const window = breaker.create();
  const stateChange = new EventSlot<StateChangeEvent>('circuit-breaker', 'state-change');
  const rejectEvent = new EventSlot<BreakerRejectEvent>('circuit-breaker', 'reject');
  const storeErrorEvent = new EventSlot<StoreErrorEvent>('circuit-breaker', 'store-error');

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
  // Shared state: the version of the record this instance last stored or adopted, whether it holds
  // the cluster-wide trial lease, and until when another instance was seen holding it.
  let version = 0;
  const owner = randomUUID();
  let holdingLease = false;
  let trialBlockedUntil = 0;

  /** The success handler of calls started in the current generation (see `run`'s fast path). */
  let successInGeneration = successHandler(0);

  if (initial !== undefined) {
    openings = initial.openings;
    lastOpenMs = initial.lastOpenMs ?? undefined;
    if (initial.state === 'open' || initial.state === 'half-open') {
      state = 'open';
      openUntil = initial.openUntil;
    } else if (initial.state === 'isolated') state = 'isolated';
  }

  function storeError(operation: StoreErrorEvent['operation'], error: unknown): void {
    if (storeErrorEvent.active) {
      storeErrorEvent.emit({ event: 'store-error', name, pipeline: lastPipeline, operation, error });
    }
  }

  function transition(to: CircuitState, reason: StateChangeReason, outcome?: Outcome): void {
    const from = state;
    state = to;
    generation++;
    successInGeneration = successHandler(generation);
    if (to !== 'half-open' && holdingLease) {
      holdingLease = false;
      store?.releaseTrial(name, owner).catch((error: unknown) => storeError('releaseTrial', error));
    }
    if (stateChange.active && from !== to) {
      stateChange.emit({ event: 'state-change', name, pipeline: lastPipeline, from, to, reason, ...outcome });
    }
    if (store !== undefined && to !== 'half-open' && reason !== 'store') publish(to);
  }

  function publish(to: 'closed' | 'open' | 'isolated'): void {
    const record: BreakerRecord = { state: to, openUntil, openings, version: ++version };
    store!.set(name, record).then(
      (stored) => {
        // Another instance got there first with a newer record: take it.
        if (!stored) return store!.get(name).then((newer) => newer && adopt(newer));
      },
      (error: unknown) => storeError('set', error),
    );
  }

  /** Takes a record another instance stored, if it is newer than what this one knows. */
  function adopt(record: BreakerRecord): void {
    if (!isRecord(record)) {
      storeError('subscribe', new TypeError(`circuitBreaker "${name}": the store gave a malformed record`));
      return;
    }
    if (record.version <= version) return;
    version = record.version;
    openings = record.openings;
    if (record.state === 'closed') {
      if (state !== 'closed') {
        window.reset();
        lastOpenMs = undefined;
        transition('closed', 'store');
      }
    } else if (record.state === 'open') {
      openUntil = record.openUntil;
      if (state !== 'open') transition('open', 'store');
    } else if (state !== 'isolated') transition('isolated', 'store');
  }

  let unsubscribe: (() => void) | undefined;
  let disposed = false;
  if (store !== undefined) {
    // After the constructor returns, so that an onStoreError listener added next sees a failure.
    queueMicrotask(() => {
      if (disposed) return;
      try {
        unsubscribe = store.subscribe(name, adopt);
      } catch (error) {
        storeError('subscribe', error);
      }
      store.get(name).then(
        (record) => {
          if (record !== undefined) adopt(record);
        },
        (error: unknown) => storeError('get', error),
      );
    });
  }

  function open(now: number, reason: StateChangeReason, outcome: Outcome | undefined): void {
    openings++;
    lastOpenMs = halfOpenDelay(openings, lastOpenMs);
    openUntil = now + lastOpenMs;
    transition('open', reason, outcome);
  }

  function close(reason: StateChangeReason): void {
    openings = 0;
    lastOpenMs = undefined;
    window.reset();
    transition('closed', reason);
  }

  /** Moves an open circuit whose wait is over to half-open. */
  function refresh(now: number): void {
    if (state === 'open' && now >= openUntil) {
      trialsInFlight = 0;
      trialSuccesses = 0;
      transition('half-open', 'elapsed');
    }
  }

  function reject(ctx: ExecutionContext, retryAfterMs: number | undefined): never {
    if (rejectEvent.active) {
      rejectEvent.emit({ event: 'reject', name, pipeline: ctx.pipeline, state, retryAfterMs });
    }
    throw new CircuitOpenError(state === 'isolated', { policy: name, retryAfterMs });
  }

  /**
   * Records one call that started in generation `startedIn`. `failed` is `undefined` when the
   * outcome says nothing of the downstream (the caller gave up, or `isFailure` threw).
   */
  function record(
    startedIn: number,
    trial: boolean,
    failed: boolean | undefined,
    durationMs: number,
    outcome: Outcome | undefined,
  ): void {
    if (startedIn !== generation) return; // a late result from an earlier state
    if (trial) trialsInFlight--;
    if (failed === undefined) return;
    if (state === 'closed') {
      const now = usesClock ? clock.now() : 0;
      const reason = window.record(failed, durationMs, now);
      if (reason !== undefined) open(usesClock ? now : clock.now(), reason, outcome);
    } else if (state === 'half-open') {
      if (failed) open(clock.now(), 'trial-failed', outcome);
      else if (++trialSuccesses >= halfOpenMaxCalls) close('trial-succeeded');
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
    outcome: Outcome,
  ): boolean | undefined {
    if (ctx.callerAborted) return undefined;
    if (isFailure === undefined) return 'error' in outcome;
    try {
      return isFailure(outcome, ctx);
    } catch (predicateError) {
      record(startedIn, trial, undefined, 0, undefined);
      throw predicateError;
    }
  }

  function successHandler(startedIn: number): (value: unknown) => unknown {
    return (value) => {
      record(startedIn, false, false, 0, undefined);
      return value;
    };
  }

  function call(ctx: ExecutionContext, next: Runner, trial: boolean): Promise<unknown> {
    if (trial) trialsInFlight++;
    const startedIn = generation;
    // A plain success outside a trial needs no per-call state: its handler is made once per generation.
    if (!trial && !measures && isFailure === undefined && ctx.callerSignal === undefined) {
      return next(ctx).then(successInGeneration, (error: unknown) => {
        record(startedIn, false, classify(ctx, startedIn, false, { error }), 0, { error });
        throw error;
      });
    }
    const start = measures ? clock.now() : 0;
    const done = (outcome: Outcome): void => {
      const failed = classify(ctx, startedIn, trial, outcome);
      record(startedIn, trial, failed, measures ? clock.now() - start : 0, outcome);
    };
    return next(ctx).then(
      (value: unknown) => {
        done({ value });
        return value;
      },
      (error: unknown) => {
        done({ error });
        throw error;
      },
    );
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    lastPipeline = ctx.pipeline;
    if (state === 'closed') return call(ctx, next, false);
    try {
      const claim = admit(ctx);
      if (claim !== undefined) return claim.then(() => run(ctx, next));
    } catch (error) {
      return Promise.reject(error);
    }
    return call(ctx, next, state === 'half-open');
  }

  /**
   * Lets a call through a circuit that is not closed, or throws `CircuitOpenError`. With a store, the
   * first trial of a half-open circuit first claims the cluster-wide trial lease: the promise it
   * returns settles when the claim does, and the call is then admitted afresh.
   */
  function admit(ctx: ExecutionContext): Promise<void> | undefined {
    if (state === 'isolated') reject(ctx, undefined);
    const now = clock.now();
    refresh(now);
    if (state === 'open') reject(ctx, openUntil - now);
    if (trialsInFlight >= halfOpenMaxCalls) reject(ctx, undefined);
    if (store === undefined || holdingLease) return undefined;
    if (trialBlockedUntil > now) reject(ctx, trialBlockedUntil - now);
    const claimedIn = generation;
    trialsInFlight++; // holds the slot while the claim is in flight
    return store.acquireTrial(name, owner, trialLeaseMs).then(
      (granted) => {
        if (claimedIn === generation) trialsInFlight--;
        if (granted) holdingLease = true;
        else {
          // Another instance is probing: look again once its lease could have ended, or sooner
          // when it publishes the result.
          trialBlockedUntil = clock.now() + Math.min(trialLeaseMs, 1_000);
          reject(ctx, trialBlockedUntil - clock.now());
        }
      },
      (error: unknown) => {
        if (claimedIn === generation) trialsInFlight--;
        storeError('acquireTrial', error);
        holdingLease = true; // the store is unreachable: probe locally rather than never
      },
    );
  }

  const onState = (to: CircuitState) => (listener: Listener<StateChangeEvent>) => {
    func('circuitBreaker', 'listener', listener);
    return stateChange.on((event) => {
      if (event.to === to) listener(event);
    });
  };

  const dispose = (): void => {
    disposed = true;
    unsubscribe?.();
    unsubscribe = undefined;
  };

  const gauges = registerGauges({
    read: () => {
      refresh(clock.now());
      return [{ kind: 'circuit-breaker', name, gauge: 'state', value: CIRCUIT_STATE_VALUES[state] }];
    },
  });

  const api = {
    [GAUGES]: gauges,
    get state(): CircuitState {
      refresh(clock.now());
      return state;
    },
    isolate(): Disposable {
      isolations++;
      if (state !== 'isolated') transition('isolated', 'isolated');
      const epoch = isolationEpoch;
      let released = false;
      const release = (): void => {
        if (released || epoch !== isolationEpoch) return;
        released = true;
        isolations--;
        if (isolations === 0 && state === 'isolated') close('released');
      };
      return { dispose: release, [Symbol.dispose]: release };
    },
    reset(): void {
      isolations = 0;
      isolationEpoch++;
      close('reset');
    },
    toJSON(): CircuitSnapshot {
      refresh(clock.now());
      return {
        format: 'breakwater.circuit-breaker',
        version: 1,
        name,
        state,
        openUntil: state === 'open' || state === 'half-open' ? openUntil : 0,
        openings,
        lastOpenMs: lastOpenMs ?? null,
      };
    },
    onStateChange: (listener: Listener<StateChangeEvent>) => stateChange.on(listener),
    onBreak: onState('open'),
    onReset: onState('closed'),
    onHalfOpen: onState('half-open'),
    onReject: (listener: Listener<BreakerRejectEvent>) => rejectEvent.on(listener),
    onStoreError: (listener: Listener<StoreErrorEvent>) => storeErrorEvent.on(listener),
    dispose,
    [Symbol.dispose]: dispose,
  };

  return createPolicy(
    { name, kind: 'circuit-breaker', run: run as never },
    { trusted: true, now: () => clock.now(), api },
  );
}
