import { systemClock } from '../clock/clock.js';
import { BulkheadFullError } from '../errors/errors.js';
import { checkOptions, clockOption, given, integer, nameOption, optionError } from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import { GAUGES, registerGauges } from '../events/gauges.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { BULKHEAD_DEFAULTS, type BulkheadOptions, type BulkheadRejectEvent } from './options.js';

export interface BulkheadPolicy extends Policy {
  /** Calls running now. */
  readonly executing: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  onReject(listener: Listener<BulkheadRejectEvent>): Disposable;
}

interface Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;
  grant(): void;
}

const KNOWN = ['name', 'maxConcurrent', 'maxQueue', 'queueTimeoutMs', 'clock'] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/** Bounds concurrency, with an optional bounded queue. Slots pass to waiters in arrival order. */
export function bulkhead(options: BulkheadOptions = {}): BulkheadPolicy {
  checkOptions('bulkhead', options, KNOWN);
  const d = BULKHEAD_DEFAULTS;
  const name = nameOption('bulkhead', options.name, d.name);
  const maxConcurrent = integer(
    'bulkhead',
    'maxConcurrent',
    given(options.maxConcurrent, d.maxConcurrent),
    1,
  );
  const maxQueue = integer('bulkhead', 'maxQueue', given(options.maxQueue, d.maxQueue), 0, true);
  const queueTimeoutMs = given(options.queueTimeoutMs, d.queueTimeoutMs);
  if (typeof queueTimeoutMs !== 'number' || Number.isNaN(queueTimeoutMs)) {
    throw optionError('bulkhead', 'queueTimeoutMs', 'a positive number of ms (or Infinity)', queueTimeoutMs);
  }
  if (!(queueTimeoutMs > 0)) {
    throw optionError(
      'bulkhead',
      'queueTimeoutMs',
      'a positive number of ms (or Infinity)',
      queueTimeoutMs,
      'range',
    );
  }
  const clock = clockOption('bulkhead', options.clock, systemClock);
  const rejectEvent = new EventSlot<BulkheadRejectEvent>('bulkhead', 'reject');

  let executing = 0;
  let queued = 0;
  let head: Waiter | undefined;
  let tail: Waiter | undefined;

  function unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    queued--;
  }

  function release(): void {
    const waiter = head;
    if (waiter === undefined) executing--;
    else {
      // The slot passes straight to the first waiter: `executing` stays the same.
      unlink(waiter);
      waiter.grant();
    }
  }

  function rejection(ctx: ExecutionContext, reason: 'full' | 'queue-timeout'): BulkheadFullError {
    if (rejectEvent.active) {
      rejectEvent.emit({ event: 'reject', name, pipeline: ctx.pipeline, reason, executing, queued });
    }
    const message =
      reason === 'full'
        ? `Bulkhead "${name}" is full (${maxConcurrent} running, ${maxQueue} queued)`
        : `Bulkhead "${name}": no slot within ${queueTimeoutMs} ms`;
    return new BulkheadFullError(maxConcurrent, maxQueue, message, { policy: name });
  }

  function wait(ctx: ExecutionContext): Promise<void> {
    if (ctx.aborted) return Promise.reject(ctx.abortReason);
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const waiter: Waiter = {
        prev: tail,
        next: undefined,
        grant() {
          unsubscribe();
          if (timer !== undefined) clock.clearTimeout(timer);
          resolve();
        },
      };
      if (tail === undefined) head = waiter;
      else tail.next = waiter;
      tail = waiter;
      queued++;
      // An aborted waiter leaves the queue at once and never takes a slot.
      const unsubscribe = ctx.onAbort((reason) => {
        unlink(waiter);
        if (timer !== undefined) clock.clearTimeout(timer);
        reject(reason);
      });
      if (queueTimeoutMs !== Number.POSITIVE_INFINITY) {
        timer = clock.setTimeout(() => {
          unsubscribe();
          unlink(waiter);
          reject(rejection(ctx, 'queue-timeout'));
        }, queueTimeoutMs);
      }
    });
  }

  const releaseValue = (value: unknown): unknown => {
    release();
    return value;
  };
  const releaseError = (error: unknown): never => {
    release();
    throw error;
  };

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    if (executing < maxConcurrent) {
      executing++;
      return next(ctx).then(releaseValue, releaseError);
    }
    if (queued < maxQueue) return wait(ctx).then(() => next(ctx).then(releaseValue, releaseError));
    return Promise.reject(rejection(ctx, 'full'));
  }

  const gauges = registerGauges({
    read: () => [
      { kind: 'bulkhead', name, gauge: 'executing', value: executing },
      { kind: 'bulkhead', name, gauge: 'queued', value: queued },
    ],
  });

  return createPolicy(
    { name, kind: 'bulkhead', run: run as never },
    {
      trusted: true,
      meta: { maxConcurrent, maxQueue },
      now: () => clock.now(),
      api: {
        get executing() {
          return executing;
        },
        get queued() {
          return queued;
        },
        onReject: (listener: Listener<BulkheadRejectEvent>) => rejectEvent.on(listener),
        [GAUGES]: gauges,
      },
    },
  );
}
