import { systemClock } from '../clock/clock.js';
import { BulkheadFullError } from '../errors/errors.js';
import { checkOptions, clockOption, given, integer, nameOption, optionError } from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import { GAUGES, registerGauges } from '../events/gauges.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import { releasing, WaitQueue } from '../pipeline/wait-queue.js';
import { BULKHEAD_DEFAULTS, type BulkheadOptions, type BulkheadRejectEvent } from './options.js';

export interface BulkheadPolicy extends Policy {
  /** Calls running now. */
  readonly executing: number;
  /** Calls waiting for a slot now. */
  readonly queued: number;
  onReject(listener: Listener<BulkheadRejectEvent>): Disposable;
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
  const queue = new WaitQueue<undefined>(clock);

  function release(): void {
    // A freed slot passes straight to the oldest waiter: `executing` stays the same.
    if (!queue.grantOldest()) executing--;
  }

  function rejection(ctx: ExecutionContext, reason: 'full' | 'queue-timeout'): BulkheadFullError {
    if (rejectEvent.active) {
      rejectEvent.emit({
        event: 'reject',
        name,
        pipeline: ctx.pipeline,
        reason,
        executing,
        queued: queue.size,
      });
    }
    const message =
      reason === 'full'
        ? `Bulkhead "${name}" is full (${maxConcurrent} running, ${maxQueue} queued)`
        : `Bulkhead "${name}": no slot within ${queueTimeoutMs} ms`;
    return new BulkheadFullError(maxConcurrent, maxQueue, message, { policy: name });
  }

  function wait(ctx: ExecutionContext): Promise<void> {
    return queue.wait(ctx, undefined, queueTimeoutMs, () => rejection(ctx, 'queue-timeout'));
  }

  const [releaseValue, releaseError] = releasing(release);

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    if (executing < maxConcurrent) {
      executing++;
      return next(ctx).then(releaseValue, releaseError);
    }
    if (queue.size < maxQueue) return wait(ctx).then(() => next(ctx).then(releaseValue, releaseError));
    return Promise.reject(rejection(ctx, 'full'));
  }

  const gauges = registerGauges({
    read: () => [
      { kind: 'bulkhead', name, gauge: 'executing', value: executing },
      { kind: 'bulkhead', name, gauge: 'queued', value: queue.size },
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
          return queue.size;
        },
        onReject: (listener: Listener<BulkheadRejectEvent>) => rejectEvent.on(listener),
        [GAUGES]: gauges,
      },
    },
  );
}
