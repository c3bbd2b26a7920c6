import { type Clock, systemClock } from '../clock/clock.js';
import { TimerQueue } from '../clock/timer-queue.js';
import { TimeoutError } from '../errors/errors.js';
import { checkOptions, clockOption, given, nameOption, oneOf, positiveFinite } from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { TIMEOUT_DEFAULTS, type TimeoutEvent, type TimeoutOptions } from './options.js';

export interface TimeoutPolicy extends Policy {
  readonly timeoutMs: number;
  onTimeout(listener: Listener<TimeoutEvent>): Disposable;
}

const KNOWN = ['name', 'mode', 'clock'] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/**
 * Bounds how long a call may take. Timers are shared: all calls of one timeout policy sit in one
 * FIFO queue behind a single clock timer, and `ctx.signal` is only made if fn reads it.
 */
export function timeout(ms: number, options: TimeoutOptions = {}): TimeoutPolicy {
  const timeoutMs = positiveFinite('timeout', 'ms', ms);
  checkOptions('timeout', options, KNOWN);
  const d = TIMEOUT_DEFAULTS;
  const name = nameOption('timeout', options.name, d.name);
  const mode = oneOf('timeout', 'mode', given(options.mode, d.mode), ['cooperative', 'aggressive']);
  const clock: Clock = clockOption('timeout', options.clock, systemClock);
  const queue = new TimerQueue(clock);
  const timeoutEvent = new EventSlot<TimeoutEvent>('timeout', 'timeout');

  function expire(scope: ExecutionContext): void {
    const state = scope.state!;
    const error = new TimeoutError(state.budgetMs, {
      policy: name,
      fromDeadline: state.budgetMs < timeoutMs,
    });
    state.expiredWith = error;
    if (timeoutEvent.active) {
      timeoutEvent.emit({ event: 'timeout', name, pipeline: scope.pipeline, timeoutMs: state.budgetMs });
    }
    scope.abort(error);
  }

  /** Opens the scope the call runs in; throws at once when the deadline has already passed. */
  function open(ctx: ExecutionContext): ExecutionContext {
    // A fresh reading for every call: a time cached across a busy event loop would make the
    // timeout fire before its ms have passed.
    const start = clock.now();
    const deadline = ctx.deadline;
    if (deadline !== undefined && deadline <= start) {
      throw new TimeoutError(0, { policy: name, fromDeadline: true });
    }
    const scope = ctx.fork();
    const state = scope.state!;
    state.expire = expire;
    if (deadline !== undefined && deadline < start + timeoutMs) {
      // The caller's deadline comes first: this scope is out of FIFO order, so it gets its own timer.
      state.budgetMs = deadline - start;
      scope.deadline = deadline;
      state.timerHandle = clock.setTimeout(() => state.onExpire(), state.budgetMs);
    } else {
      state.budgetMs = timeoutMs;
      state.expiresAt = scope.deadline = start + timeoutMs;
      queue.add(state);
    }
    return scope;
  }

  function close(scope: ExecutionContext): void {
    const state = scope.state!;
    if (state.timerHandle !== undefined) clock.clearTimeout(state.timerHandle);
    else queue.remove(state);
    scope.release();
  }

  function cooperative(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    let scope: ExecutionContext;
    try {
      scope = open(ctx);
    } catch (error) {
      return Promise.reject(error);
    }
    const state = scope.state!;
    return next(scope).then(
      (value) => {
        close(scope);
        if (state.expiredWith !== undefined) throw state.expiredWith;
        return value;
      },
      (error: unknown) => {
        close(scope);
        throw state.expiredWith ?? error;
      },
    );
  }

  function aggressive(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const scope = open(ctx);
      const state = scope.state!;
      state.expire = (s) => {
        expire(s);
        reject(state.expiredWith);
      };
      next(scope).then(
        (value) => {
          close(scope);
          if (state.expiredWith !== undefined) reject(state.expiredWith);
          else resolve(value);
        },
        (error: unknown) => {
          close(scope);
          reject(state.expiredWith ?? error);
        },
      );
    });
  }

  return createPolicy(
    { name, kind: 'timeout', run: (mode === 'cooperative' ? cooperative : aggressive) as never },
    {
      trusted: true,
      meta: { timeoutMs },
      now: () => clock.now(),
      api: {
        timeoutMs,
        onTimeout: (listener: Listener<TimeoutEvent>) => timeoutEvent.on(listener),
      },
    },
  );
}
