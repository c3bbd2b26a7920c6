import { checkCacheKey } from '../cache/cache.js';
import { systemClock } from '../clock/clock.js';
import {
  IdempotencyConflictError,
  IdempotencyMismatchError,
  StoreUnavailableError,
} from '../errors/errors.js';
import {
  checkOptions,
  clockOption,
  finiteNumber,
  given,
  integer,
  nameOption,
  oneOf,
  plainObject,
  positiveFinite,
  withMethods,
} from '../errors/validate.js';
import { type Disposable, EventSlot, type Listener } from '../events/events.js';
import type { ExecutionContext } from '../pipeline/context.js';
import { createPolicy } from '../pipeline/create-policy.js';
import type { Policy } from '../pipeline/policy.js';
import type { BeginResult, IdempotencyStore, IdempotentResult } from '../stores/idempotency-store.js';
import {
  IDEMPOTENCY_DEFAULTS,
  type IdempotencyKeyEvent,
  type IdempotencyLeaseLostEvent,
  type IdempotencyOptions,
  type IdempotencyReplayEvent,
} from './options.js';

export interface IdempotencyPolicy extends Policy {
  /** A call ran under a freshly claimed key. */
  onClaim(listener: Listener<IdempotencyKeyEvent>): Disposable;
  /** A duplicate got the stored result without running. */
  onReplay(listener: Listener<IdempotencyReplayEvent>): Disposable;
  /** A duplicate found the key in flight and was refused. */
  onConflict(listener: Listener<IdempotencyKeyEvent>): Disposable;
  /** The holder found its claim gone (its lease lapsed and another caller took the key over). */
  onLeaseLost(listener: Listener<IdempotencyLeaseLostEvent>): Disposable;
}

const KNOWN = ['name', 'store', 'ttlMs', 'leaseMs', 'wait', 'saveOn', 'maxKeyBytes', 'clock'] as const;
type Runner = (ctx: ExecutionContext) => Promise<unknown>;

/**
 * Runs a call at most once per `options.idempotencyKey` (Stripe's and the IETF Idempotency-Key
 * draft's rules): the first caller claims the key with a lease it extends while it runs, and stores
 * the result; duplicates replay it, wait for it, or are refused while it runs; a key reused with
 * another fingerprint is refused. A store that cannot be reached fails closed: fn does not run.
 */
export function idempotency(options: IdempotencyOptions): IdempotencyPolicy {
  checkOptions('idempotency', options, KNOWN);
  const d = IDEMPOTENCY_DEFAULTS;
  const name = nameOption('idempotency', options.name, d.name);
  const store = withMethods<IdempotencyStore>(
    'idempotency',
    'store',
    options.store,
    ['begin', 'complete', 'release', 'extend', 'wait'],
    'an IdempotencyStore (memoryIdempotencyStore(), or { begin, complete, release, extend, wait })',
  );
  const ttlMs = positiveFinite('idempotency', 'ttlMs', given(options.ttlMs, d.ttlMs));
  const leaseMs = positiveFinite('idempotency', 'leaseMs', given(options.leaseMs, d.leaseMs));
  let waitMs: number = d.waitMs;
  if (options.wait !== undefined) {
    const w = plainObject('idempotency', 'wait', options.wait);
    checkOptions('idempotency.wait', w, ['maxMs']);
    waitMs = finiteNumber('idempotency.wait', 'maxMs', given(w.maxMs, d.waitMs));
  }
  const saveOn = oneOf('idempotency', 'saveOn', given(options.saveOn, d.saveOn), [
    'success',
    'started',
  ] as const);
  const maxKeyBytes = integer('idempotency', 'maxKeyBytes', given(options.maxKeyBytes, d.maxKeyBytes), 1);
  const clock = clockOption('idempotency', options.clock, systemClock);
  const claimEvent = new EventSlot<IdempotencyKeyEvent>('idempotency', 'claim');
  const replayEvent = new EventSlot<IdempotencyReplayEvent>('idempotency', 'replay');
  const conflictEvent = new EventSlot<IdempotencyKeyEvent>('idempotency', 'conflict');
  const leaseLostEvent = new EventSlot<IdempotencyLeaseLostEvent>('idempotency', 'lease-lost');

  const unavailable = (operation: string, cause: unknown) =>
    new StoreUnavailableError(`Idempotency store unreachable (${operation}); the call was not run`, {
      policy: name,
      cause,
      retryAfterMs: 1_000,
    });

  function leaseLost(ctx: ExecutionContext, key: string, during: IdempotencyLeaseLostEvent['during']): void {
    if (leaseLostEvent.active) {
      leaseLostEvent.emit({ event: 'lease-lost', name, pipeline: ctx.pipeline, idempotencyKey: key, during });
    }
  }

  /** Runs the call while holding the key, extending the lease every third of it. */
  async function hold(ctx: ExecutionContext, next: Runner, key: string, token: number): Promise<unknown> {
    if (claimEvent.active)
      claimEvent.emit({ event: 'claim', name, pipeline: ctx.pipeline, idempotencyKey: key });
    let lost = false;
    let timer: unknown;
    const beat = (): void => {
      timer = clock.setTimeout(() => {
        store.extend(key, token, leaseMs).then(
          (kept) => {
            if (kept) beat();
            else {
              lost = true;
              leaseLost(ctx, key, 'extend');
            }
          },
          () => beat(), // a store that blips: try again at the next beat, while the lease lasts
        );
      }, leaseMs / 3);
    };
    beat();
    let outcome: IdempotentResult;
    try {
      outcome = { ok: true, value: await next(ctx) };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clock.clearTimeout(timer);
    }
    // A caller that gave up (its own abort) did not finish the work: free the key, store nothing.
    const keep = outcome.ok || (saveOn === 'started' && !ctx.callerAborted);
    if (!lost) {
      try {
        const kept = keep
          ? await store.complete(key, token, outcome, ttlMs)
          : await store.release(key, token);
        if (!kept) leaseLost(ctx, key, keep ? 'complete' : 'release');
      } catch {
        // The work ran; its answer goes to the caller. The claim lapses with its lease, and until then
        // duplicates are refused as in flight, never run.
      }
    }
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  }

  function replay(ctx: ExecutionContext, key: string, result: IdempotentResult): unknown {
    if (replayEvent.active) {
      replayEvent.emit({
        event: 'replay',
        name,
        pipeline: ctx.pipeline,
        idempotencyKey: key,
        failed: !result.ok,
      });
    }
    if (result.ok) return result.value;
    throw result.error;
  }

  async function run(ctx: ExecutionContext, next: Runner): Promise<unknown> {
    const key = ctx.idempotencyKey;
    if (key === undefined) return next(ctx);
    const bad = checkCacheKey(`idempotency "${name}"`, key, maxKeyBytes);
    if (bad !== undefined) throw bad;
    const fingerprint = ctx.fingerprint ?? '';
    const waitUntil = clock.now() + waitMs;
    for (;;) {
      let begun: BeginResult;
      try {
        begun = await store.begin(key, { fingerprint, leaseMs });
      } catch (error) {
        throw unavailable('begin', error);
      }
      if (begun.status === 'claimed') return hold(ctx, next, key, begun.token);
      if (begun.fingerprint !== fingerprint) throw new IdempotencyMismatchError(key, { policy: name });
      if (begun.status === 'done') return replay(ctx, key, begun.result);
      const left = waitUntil - clock.now();
      if (left <= 0 || ctx.aborted) {
        if (conflictEvent.active)
          conflictEvent.emit({ event: 'conflict', name, pipeline: ctx.pipeline, idempotencyKey: key });
        throw new IdempotencyConflictError(key, {
          policy: name,
          retryAfterMs: Math.max(0, Math.min(begun.leaseMsLeft, 1_000)),
        });
      }
      await store.wait(key, Math.min(left, Math.max(1, begun.leaseMsLeft)), ctx.signal);
      if (ctx.aborted) throw ctx.abortReason;
    }
  }

  return createPolicy<Omit<IdempotencyPolicy, keyof Policy>>(
    { name, kind: 'idempotency', run: run as never },
    {
      trusted: true,
      now: () => clock.now(),
      api: {
        onClaim: (listener: Listener<IdempotencyKeyEvent>) => claimEvent.on(listener),
        onReplay: (listener: Listener<IdempotencyReplayEvent>) => replayEvent.on(listener),
        onConflict: (listener: Listener<IdempotencyKeyEvent>) => conflictEvent.on(listener),
        onLeaseLost: (listener: Listener<IdempotencyLeaseLostEvent>) => leaseLostEvent.on(listener),
      },
    },
  );
}
