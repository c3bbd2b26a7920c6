import { performance } from 'node:perf_hooks';
import { type Clock, setTimerRef, systemClock, systemRandom } from '../clock/clock.js';
import { isRejectedError, OverloadedError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  fraction,
  func,
  given,
  integer,
  nameOption,
  oneOf,
  optionError,
  plainObject,
  positiveFinite,
  randomOption,
  unitInterval,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import { type ExecutionContext, PRIORITIES, type Priority } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { releasing, WaitQueue } from '../pipeline/wait-queue.js';
import type { Limit } from './limits.js';
import {
  type EventLoopReading,
  type EventLoopTrigger,
  LOAD_SHED_DEFAULTS,
  type LoadShedOptions,
  type ShedEvent,
} from './options.js';

export interface LoadShedPolicy extends Policy {
  /** Calls holding a slot now. */
  readonly inflight: number;
  /** The limit now in force. */
  readonly limit: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  /**
   * Takes a slot outside `execute` (a server holds one per request): a `release` to call when the
   * work ends, or `undefined` when the call is shed. Never waits.
   */
  tryAcquire(priority?: Priority): ((outcome?: { dropped?: boolean }) => void) | undefined;
  /** Whether the event-loop trigger says the process is overloaded now. */
  readonly eventLoopOverloaded: boolean;
  onShed(listener: Listener<ShedEvent>): Disposable;
  /** Stops the event-loop sampler (nothing to stop without `eventLoop`). */
  dispose(): void;
  [Symbol.dispose](): void;
}

const KNOWN = [
  'name',
  'limit',
  'maxQueue',
  'queueTimeoutMs',
  'priorities',
  'eventLoop',
  'clock',
  'random',
] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

function checkLimit(value: unknown): Limit {
  const limit = value as Partial<Limit> | null;
  if (
    typeof limit !== 'object' ||
    limit === null ||
    typeof limit.update !== 'function' ||
    !('current' in limit)
  ) {
    throw optionError(
      'loadShed',
      'limit',
      'a Limit (limits.fixed/aimd/gradient/vegas, or { current, update })',
      value,
    );
  }
  return limit as Limit;
}

/**
 * Admission control: at most `limit.current` calls in flight, each priority up to its share of the
 * limit, the rest queued (newest first: adaptive LIFO, the freshest request is the one still worth
 * serving) or shed with an `OverloadedError` carrying a jittered `retryAfterMs`. The limit learns
 * from every call's latency and whether it was dropped.
 */
export function loadShed(options: LoadShedOptions): LoadShedPolicy {
  checkOptions('loadShed', options, KNOWN);
  const d = LOAD_SHED_DEFAULTS;
  const name = nameOption('loadShed', options.name, d.name);
  const limit = checkLimit(options.limit);
  const maxQueue = integer('loadShed', 'maxQueue', given(options.maxQueue, d.maxQueue), 0);
  const queueTimeoutMs = given(options.queueTimeoutMs, d.queueTimeoutMs);
  if (typeof queueTimeoutMs !== 'number' || !(queueTimeoutMs > 0)) {
    throw optionError('loadShed', 'queueTimeoutMs', 'a positive number of ms (or Infinity)', queueTimeoutMs);
  }
  const shares: Record<Priority, number> = { ...d.priorities };
  if (options.priorities !== undefined) {
    const given_ = plainObject('loadShed', 'priorities', options.priorities);
    checkOptions('loadShed.priorities', given_, PRIORITIES);
    for (const p of PRIORITIES) {
      if (given_[p] !== undefined) shares[p] = unitInterval('loadShed.priorities', p, given_[p]);
    }
  }
  const clock = clockOption('loadShed', options.clock, systemClock);
  const random = randomOption('loadShed', options.random, systemRandom);
  const shedEvent = new EventSlot<ShedEvent>('load-shed', 'shed');
  const sampler = options.eventLoop === undefined ? undefined : eventLoopSampler(options.eventLoop, clock);

  let inflight = 0;
  const queue = new WaitQueue<Priority>(clock);
  let lastGoodLimit = 1;

  /** The limit now; a user's limit that throws or gives nonsense keeps the last good value. */
  function currentLimit(): number {
    try {
      const n = limit.current;
      if (typeof n === 'number' && n >= 1 && Number.isFinite(n)) lastGoodLimit = Math.floor(n);
    } catch {
      // keep the last good value: a broken limit must not wedge admission
    }
    return lastGoodLimit;
  }

  const admits = (priority: Priority): boolean =>
    inflight < Math.ceil(currentLimit() * shares[priority]) &&
    (sampler === undefined || !sampler.overloaded || priority === 'critical');
  const reasonFor = (priority: Priority): ShedEvent['reason'] =>
    sampler?.overloaded === true && priority !== 'critical' ? 'event-loop' : 'limit';

  function learn(rttMs: number, startedWith: number, dropped: boolean): void {
    try {
      limit.update({ rttMs, inflight: startedWith, dropped, now: clock.now() });
    } catch {
      // a limit that throws learns nothing from this call; the slot is already free
    }
  }

  /** Frees a slot and hands it to the newest waiter that may take it. */
  function release(): void {
    inflight--;
    if (queue.grantNewest(admits)) inflight++;
  }

  function shed(
    ctx: ExecutionContext | undefined,
    priority: Priority,
    reason: ShedEvent['reason'],
  ): OverloadedError {
    const limitNow = currentLimit();
    if (shedEvent.active) {
      shedEvent.emit({
        event: 'shed',
        name,
        pipeline: ctx?.pipeline,
        reason,
        priority,
        inflight,
        limit: limitNow,
      });
    }
    const base = Number.isFinite(queueTimeoutMs) ? queueTimeoutMs : 1_000;
    return new OverloadedError(
      'BW_OVERLOADED',
      `Shed by "${name}" (${inflight} in flight, limit ${limitNow})`,
      {
        policy: name,
        // Jittered, so the callers it sheds do not all come back at the same moment.
        retryAfterMs: Math.round(base * (0.5 + random())),
      },
    );
  }

  function wait(ctx: ExecutionContext, priority: Priority): Promise<void> {
    return queue.wait(ctx, priority, queueTimeoutMs, () => shed(ctx, priority, 'queue-timeout'));
  }

  const [releaseValue, releaseError] = releasing(release);

  function runHolding(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    // A limit that learns nothing needs no timing: no clock reads, no per-call closures.
    if (limit.learns === false) return next(ctx).then(releaseValue, releaseError);
    const startedWith = inflight;
    const start = clock.now();
    return next(ctx).then(
      (value) => {
        release();
        learn(clock.now() - start, startedWith, false);
        return value;
      },
      (error: unknown) => {
        release();
        learn(clock.now() - start, startedWith, !ctx.callerAborted && isRejectedError(error));
        throw error;
      },
    );
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    const priority = ctx.priority;
    if (admits(priority)) {
      inflight++;
      return runHolding(ctx, next);
    }
    if (queue.size < maxQueue) return wait(ctx, priority).then(() => runHolding(ctx, next));
    return Promise.reject(shed(ctx, priority, reasonFor(priority)));
  }

  const api = {
    get inflight() {
      return inflight;
    },
    get limit() {
      return currentLimit();
    },
    get queued() {
      return queue.size;
    },
    tryAcquire(priority: Priority = 'default') {
      oneOf('loadShed.tryAcquire', 'priority', priority, PRIORITIES);
      if (!admits(priority)) {
        shed(undefined, priority, reasonFor(priority));
        return undefined;
      }
      inflight++;
      const startedWith = inflight;
      const start = clock.now();
      let released = false;
      return (outcome?: { dropped?: boolean }) => {
        if (released) return;
        released = true;
        release();
        learn(clock.now() - start, startedWith, outcome?.dropped === true);
      };
    },
    get eventLoopOverloaded() {
      return sampler?.overloaded === true;
    },
    onShed: (listener: Listener<ShedEvent>) => shedEvent.on(listener),
    dispose: () => sampler?.stop(),
    [Symbol.dispose]: () => sampler?.stop(),
  };

  return createPolicy(
    { name, kind: 'load-shed', run: run as never },
    { trusted: true, now: () => clock.now(), api },
  );
}

/**
 * The process's own event loop: how late a timer of `intervalMs` fired (toobusy's lag, measured with
 * `performance.now()`), and the utilisation over the interval.
 */
function processProbe(): (intervalMs: number) => EventLoopReading {
  let lastAt = performance.now();
  let lastElu = performance.eventLoopUtilization();
  return (intervalMs) => {
    const now = performance.now();
    const delayMs = Math.max(0, now - lastAt - intervalMs);
    lastAt = now;
    const utilization = performance.eventLoopUtilization(lastElu).utilization;
    lastElu = performance.eventLoopUtilization();
    return { delayMs, utilization };
  };
}

/** Reads the event loop every `intervalMs` on a background timer that never keeps the process alive. */
function eventLoopSampler(trigger: EventLoopTrigger, clock: Clock) {
  const t = plainObject('loadShed', 'eventLoop', trigger) as EventLoopTrigger;
  checkOptions('loadShed.eventLoop', t, ['maxDelayMs', 'maxUtilization', 'intervalMs', 'probe']);
  const maxDelayMs =
    t.maxDelayMs === undefined ? undefined : positiveFinite('loadShed.eventLoop', 'maxDelayMs', t.maxDelayMs);
  const maxUtilization =
    t.maxUtilization === undefined
      ? undefined
      : fraction('loadShed.eventLoop', 'maxUtilization', t.maxUtilization);
  if (maxDelayMs === undefined && maxUtilization === undefined) {
    throw new TypeError('loadShed: option "eventLoop" needs maxDelayMs, maxUtilization or both');
  }
  const intervalMs = positiveFinite('loadShed.eventLoop', 'intervalMs', given(t.intervalMs, 500));
  const probe =
    t.probe === undefined
      ? processProbe()
      : func<(intervalMs: number) => EventLoopReading>('loadShed.eventLoop', 'probe', t.probe);
  let handle: unknown;
  let stopped = false;
  const state = {
    overloaded: false,
    stop(): void {
      if (stopped) return;
      stopped = true;
      clock.clearTimeout(handle);
    },
  };
  const sample = (): void => {
    if (stopped) return;
    try {
      const { delayMs, utilization } = probe(intervalMs);
      state.overloaded =
        (maxDelayMs !== undefined && delayMs > maxDelayMs) ||
        (maxUtilization !== undefined && utilization > maxUtilization);
    } catch {
      state.overloaded = false; // a probe that fails says nothing: admit as the limit says
    }
    schedule();
  };
  const schedule = (): void => {
    handle = clock.setTimeout(sample, intervalMs);
    setTimerRef(handle, false);
  };
  schedule();
  return state;
}
