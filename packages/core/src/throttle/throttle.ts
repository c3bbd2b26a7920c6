import { systemClock, systemRandom } from '../clock/clock.js';
import { SlidingCounters } from '../clock/sliding-counters.js';
import { isBreakwaterError, OverloadedError } from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  func,
  given,
  integer,
  nameOption,
  positiveFinite,
  randomOption,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { OutcomePredicate } from '../pipeline/outcome.js';
import type { Policy } from '../pipeline/policy.js';
import { THROTTLE_DEFAULTS, type ThrottleOptions, type ThrottleRejectEvent } from './options.js';

export interface ThrottlePolicy extends Policy {
  /** The probability that the next request is rejected locally. */
  readonly rejectionProbability: number;
  /** For transports outside `execute`: counts a request and decides whether to send it. */
  tryAdmit(): boolean;
  /** Reports the backend's answer to a request `tryAdmit` let through. */
  record(accepted: boolean): void;
  onReject(listener: Listener<ThrottleRejectEvent>): Disposable;
}

const KNOWN = ['name', 'k', 'windowMs', 'buckets', 'isRejection', 'clock', 'random'] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;
const REQUESTS = 0;
const ACCEPTS = 1;

/**
 * Client-side adaptive throttling (Google SRE book, "Handling Overload"): each client counts the
 * requests it attempted and the ones the backend accepted over a window, and rejects new requests
 * locally with probability max(0, (requests − k·accepts) / (requests + 1)). A backend that refuses
 * more than it can afford sees its load fall to about what it accepts.
 */
export function throttle(options: ThrottleOptions = {}): ThrottlePolicy {
  checkOptions('throttle', options, KNOWN);
  const d = THROTTLE_DEFAULTS;
  const name = nameOption('throttle', options.name, d.name);
  const k = finiteNumber('throttle', 'k', given(options.k, d.k), 1);
  const windowMs = positiveFinite('throttle', 'windowMs', given(options.windowMs, d.windowMs));
  const buckets = integer('throttle', 'buckets', given(options.buckets, d.buckets), 1);
  const isRejection =
    options.isRejection === undefined
      ? undefined
      : func<OutcomePredicate>('throttle', 'isRejection', options.isRejection);
  const clock = clockOption('throttle', options.clock, systemClock);
  const random = randomOption('throttle', options.random, systemRandom);
  const counters = new SlidingCounters(2, buckets, windowMs / buckets);
  const rejectEvent = new EventSlot<ThrottleRejectEvent>('throttle', 'reject');

  function probability(): number {
    const requests = counters.sum(REQUESTS);
    return Math.max(0, (requests - k * counters.sum(ACCEPTS)) / (requests + 1));
  }

  /** Counts a request; `undefined` when it may go, else the probability it was refused with. */
  function decide(): number | undefined {
    const slot = counters.advance(clock.now());
    const p = probability();
    counters.add(REQUESTS, slot);
    return random() < p ? p : undefined;
  }

  function record(accepted: boolean): void {
    if (accepted) counters.add(ACCEPTS, counters.advance(clock.now()));
  }

  function rejected(error: unknown, ctx: ExecutionContext): boolean {
    if (ctx.callerAborted) return false;
    if (isRejection !== undefined) return isRejection({ error }, ctx);
    return !(isBreakwaterError(error) && error.code === 'BW_THROTTLED');
  }

  function refuse(ctx: ExecutionContext, p: number): Promise<never> {
    if (rejectEvent.active)
      rejectEvent.emit({ event: 'reject', name, pipeline: ctx.pipeline, probability: p });
    return Promise.reject(
      new OverloadedError(
        'BW_THROTTLED',
        `Throttled by "${name}": the backend refuses too much (p = ${p.toFixed(2)})`,
        {
          policy: name,
          retryAfterMs: windowMs / buckets,
        },
      ),
    );
  }

  function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    const p = decide();
    if (p !== undefined) return refuse(ctx, p);
    return next(ctx).then(
      (value) => {
        record(isRejection === undefined || ctx.callerAborted ? true : !isRejection({ value }, ctx));
        return value;
      },
      (error: unknown) => {
        record(!rejected(error, ctx));
        throw error;
      },
    );
  }

  return createPolicy(
    { name, kind: 'throttle', run: run as never },
    {
      trusted: true,
      now: () => clock.now(),
      api: {
        get rejectionProbability(): number {
          counters.advance(clock.now());
          return probability();
        },
        tryAdmit: (): boolean => decide() === undefined,
        record,
        onReject: (listener: Listener<ThrottleRejectEvent>) => rejectEvent.on(listener),
      },
    },
  );
}
