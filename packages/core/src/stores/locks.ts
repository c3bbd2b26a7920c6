import { type Clock, systemClock } from '../clock/clock.js';
import { checkOptions, clockOption } from '../errors/validate.js';

export interface LockAcquireOptions {
  /** How long the lock is held unless extended or released. */
  leaseMs: number;
  /** How long to wait for a lock someone else holds; 0 answers at once. @default 0 */
  waitMs?: number;
  /** Aborting it stops the wait: `acquire` rejects with its reason. */
  signal?: AbortSignal | undefined;
}

/** A held lock. A lease that ran out is lost: `extend` and `release` then answer `false`. */
export interface Lock {
  readonly key: string;
  /** Fencing token: strictly increasing per key across owners, so a store can refuse a stale owner's write. */
  readonly token: number;
  extend(ms: number): Promise<boolean>;
  release(): Promise<boolean>;
}

/** Mutual exclusion by key, in one process (`memoryLocks`) or across many (`redisLocks`). */
export interface LockProvider {
  /** The lock, or `undefined` when it was not free within `waitMs`. */
  acquire(key: string, options: LockAcquireOptions): Promise<Lock | undefined>;
}

export interface MemoryLocksOptions {
  /** @default the system clock */
  clock?: Clock;
}

interface Held {
  token: number;
  expiresAt: number;
  timer: unknown;
}

interface Waiter {
  wake: () => void;
}

export function checkLockOptions(
  where: string,
  options: LockAcquireOptions,
): { leaseMs: number; waitMs: number } {
  const leaseMs = options?.leaseMs;
  if (typeof leaseMs !== 'number' || !(leaseMs > 0) || !Number.isFinite(leaseMs)) {
    throw new RangeError(`${where}: leaseMs must be a positive, finite number of ms, got ${String(leaseMs)}`);
  }
  const waitMs = options.waitMs ?? 0;
  if (typeof waitMs !== 'number' || !(waitMs >= 0)) {
    throw new RangeError(`${where}: waitMs must be a number of ms >= 0, got ${String(waitMs)}`);
  }
  return { leaseMs, waitMs };
}

/** Locks within this process: leases on the given clock, waiters woken in turn when a lock frees. */
export function memoryLocks(options: MemoryLocksOptions = {}): LockProvider {
  checkOptions('memoryLocks', options, ['clock']);
  const clock = clockOption('memoryLocks', options.clock, systemClock);
  const held = new Map<string, Held>();
  const waiting = new Map<string, Waiter[]>();
  let lastToken = 0;

  function free(key: string, token: number): boolean {
    const h = held.get(key);
    if (h === undefined || h.token !== token) return false;
    clock.clearTimeout(h.timer);
    held.delete(key);
    const next = waiting.get(key)?.shift();
    if (waiting.get(key)?.length === 0) waiting.delete(key);
    next?.wake();
    return true;
  }

  function take(key: string, leaseMs: number): Lock | undefined {
    const h = held.get(key);
    if (h !== undefined && h.expiresAt > clock.now()) return undefined;
    if (h !== undefined) free(key, h.token);
    const token = ++lastToken;
    const entry: Held = { token, expiresAt: clock.now() + leaseMs, timer: undefined };
    entry.timer = clock.setTimeout(() => free(key, token), leaseMs);
    held.set(key, entry);
    return {
      key,
      token,
      extend: async (ms: number) => {
        const now = held.get(key);
        if (now === undefined || now.token !== token || now.expiresAt <= clock.now()) return false;
        clock.clearTimeout(now.timer);
        now.expiresAt = clock.now() + ms;
        now.timer = clock.setTimeout(() => free(key, token), ms);
        return true;
      },
      release: async () => free(key, token),
    };
  }

  return {
    acquire(key: string, acquireOptions: LockAcquireOptions): Promise<Lock | undefined> {
      const { leaseMs, waitMs } = checkLockOptions('memoryLocks.acquire', acquireOptions);
      const signal = acquireOptions.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      const lock = take(key, leaseMs);
      if (lock !== undefined || waitMs === 0) return Promise.resolve(lock);
      return new Promise((resolve, reject) => {
        const done = (): void => {
          clock.clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          const list = waiting.get(key);
          const index = list?.indexOf(waiter) ?? -1;
          if (index !== -1) list!.splice(index, 1);
          if (list?.length === 0) waiting.delete(key);
        };
        const waiter: Waiter = {
          wake: () => {
            const got = take(key, leaseMs);
            if (got === undefined) {
              // Someone took it between the release and this wake-up: wait again, at the front.
              const list = waiting.get(key) ?? [];
              list.unshift(waiter);
              waiting.set(key, list);
              return;
            }
            done();
            resolve(got);
          },
        };
        const onAbort = (): void => {
          done();
          reject(signal!.reason);
        };
        const timer = clock.setTimeout(() => {
          done();
          resolve(undefined);
        }, waitMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        const list = waiting.get(key) ?? [];
        list.push(waiter);
        waiting.set(key, list);
      });
    },
  };
}
