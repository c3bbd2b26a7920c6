import { type Clock, systemClock } from '../clock/clock.js';
import { checkOptions, clockOption } from '../errors/validate.js';

/** What a completed call left for its duplicates to replay. */
export type IdempotentResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** The answer to `begin`: this caller now holds the key, or someone did or does. */
export type BeginResult =
  | { readonly status: 'claimed'; readonly token: number }
  | { readonly status: 'running'; readonly fingerprint: string; readonly leaseMsLeft: number }
  | { readonly status: 'done'; readonly fingerprint: string; readonly result: IdempotentResult };

export interface BeginOptions {
  fingerprint: string;
  /** The claim lapses after this unless extended: a crashed holder frees the key. */
  leaseMs: number;
}

/**
 * Where `idempotency` claims keys and keeps results. Every method is atomic; a token names one claim,
 * so a holder whose lease lapsed cannot complete, release or extend the key another caller took over.
 */
export interface IdempotencyStore {
  /** Claims the key when it is free (or its lease lapsed); else says who has it. */
  begin(key: string, options: BeginOptions): Promise<BeginResult>;
  /** Stores the holder's result for `ttlMs`; `false` when the claim was lost. */
  complete(key: string, token: number, result: IdempotentResult, ttlMs: number): Promise<boolean>;
  /** Frees the key without a result (the call failed and may be tried again); `false` when the claim was lost. */
  release(key: string, token: number): Promise<boolean>;
  /** Extends the claim's lease; `false` when it was lost. */
  extend(key: string, token: number, leaseMs: number): Promise<boolean>;
  /** Resolves when the key completes or frees, or after `maxMs` (never rejects). */
  wait(key: string, maxMs: number, signal?: AbortSignal): Promise<void>;
}

export interface MemoryIdempotencyStoreOptions {
  /** @default the system clock */
  clock?: Clock;
}

type MemoryRecord =
  | { state: 'running'; fingerprint: string; token: number; leaseUntil: number }
  | { state: 'done'; fingerprint: string; result: IdempotentResult; expiresAt: number };

/** The in-process store: duplicates waiting on a key are woken when it completes, frees or lapses. */
export function memoryIdempotencyStore(options: MemoryIdempotencyStoreOptions = {}): IdempotencyStore & {
  readonly size: number;
} {
  checkOptions('memoryIdempotencyStore', options, ['clock']);
  const clock = clockOption('memoryIdempotencyStore', options.clock, systemClock);
  const records = new Map<string, MemoryRecord>();
  const waiters = new Map<string, Set<() => void>>();
  const leaseTimers = new Map<string, unknown>();
  let lastToken = 0;
  let begins = 0;

  /** Drops lapsed records now and then, so keys never asked for again do not pile up. */
  function sweep(): void {
    for (const key of records.keys()) current(key);
  }

  function wake(key: string): void {
    const set = waiters.get(key);
    if (set === undefined) return;
    waiters.delete(key);
    for (const resolve of set) resolve();
  }

  function current(key: string): MemoryRecord | undefined {
    const r = records.get(key);
    if (r === undefined) return undefined;
    const now = clock.now();
    if ((r.state === 'running' && r.leaseUntil <= now) || (r.state === 'done' && r.expiresAt <= now)) {
      records.delete(key);
      return undefined;
    }
    return r;
  }

  function holding(key: string, token: number): (MemoryRecord & { state: 'running' }) | undefined {
    const r = current(key);
    return r?.state === 'running' && r.token === token ? r : undefined;
  }

  /** Wakes waiters when a lease lapses, so a crashed holder's duplicates take over without polling. */
  function armLease(key: string, ms: number): void {
    clock.clearTimeout(leaseTimers.get(key));
    leaseTimers.set(
      key,
      clock.setTimeout(() => {
        leaseTimers.delete(key);
        wake(key);
      }, ms),
    );
  }

  function disarm(key: string): void {
    clock.clearTimeout(leaseTimers.get(key));
    leaseTimers.delete(key);
  }

  return {
    async begin(key, { fingerprint, leaseMs }) {
      if (++begins % 1_024 === 0) sweep();
      const r = current(key);
      if (r === undefined) {
        const token = ++lastToken;
        records.set(key, { state: 'running', fingerprint, token, leaseUntil: clock.now() + leaseMs });
        armLease(key, leaseMs);
        return { status: 'claimed', token };
      }
      if (r.state === 'running') {
        return { status: 'running', fingerprint: r.fingerprint, leaseMsLeft: r.leaseUntil - clock.now() };
      }
      return { status: 'done', fingerprint: r.fingerprint, result: r.result };
    },
    async complete(key, token, result, ttlMs) {
      const r = holding(key, token);
      if (r === undefined) return false;
      records.set(key, { state: 'done', fingerprint: r.fingerprint, result, expiresAt: clock.now() + ttlMs });
      disarm(key);
      wake(key);
      return true;
    },
    async release(key, token) {
      if (holding(key, token) === undefined) return false;
      records.delete(key);
      disarm(key);
      wake(key);
      return true;
    },
    async extend(key, token, leaseMs) {
      const r = holding(key, token);
      if (r === undefined) return false;
      r.leaseUntil = clock.now() + leaseMs;
      armLease(key, leaseMs);
      return true;
    },
    wait(key, maxMs, signal) {
      return new Promise<void>((resolve) => {
        let set = waiters.get(key);
        if (set === undefined) {
          set = new Set();
          waiters.set(key, set);
        }
        const done = (): void => {
          clock.clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          const s = waiters.get(key);
          s?.delete(done);
          if (s?.size === 0) waiters.delete(key);
          resolve();
        };
        const timer = clock.setTimeout(done, maxMs);
        signal?.addEventListener('abort', done, { once: true });
        set.add(done);
      });
    },
    get size() {
      return records.size;
    },
  };
}
