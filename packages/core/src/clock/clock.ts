/**
 * Time source of a policy. `now()` is epoch milliseconds. `setTimeout` behaves as the global one
 * does: the system clock's timers keep the process alive, and delays of any length are honoured.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Randomness source: returns a number in [0, 1). */
export type Random = () => number;

/** `setTimeout` fires after ~1 ms for any delay above this (Node clamps it); longer waits are chained. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A wait longer than one Node timer can hold: chained timers, each re-armed for what is left of the
 * wait measured against the clock, so the total is never shorter than asked. Ref state carries over.
 */
class LongTimer {
  private handle: NodeJS.Timeout;
  private refed = true;
  private readonly dueAt: number;

  constructor(
    private readonly fn: () => void,
    ms: number,
  ) {
    this.dueAt = Date.now() + ms;
    this.handle = setTimeout(this.step, MAX_TIMER_MS);
  }

  private readonly step = (): void => {
    const left = this.dueAt - Date.now();
    if (left > 0) {
      this.handle = setTimeout(this.step, Math.min(left, MAX_TIMER_MS));
      if (!this.refed) this.handle.unref();
    } else this.fn();
  };

  ref(): this {
    this.refed = true;
    this.handle.ref();
    return this;
  }

  unref(): this {
    this.refed = false;
    this.handle.unref();
    return this;
  }

  hasRef(): boolean {
    return this.refed;
  }

  clear(): void {
    clearTimeout(this.handle);
  }
}

export const systemClock: Clock = Object.freeze({
  now: Date.now,
  setTimeout(fn: () => void, ms: number): unknown {
    return ms > MAX_TIMER_MS ? new LongTimer(fn, ms) : setTimeout(fn, ms);
  },
  clearTimeout(handle: unknown): void {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as NodeJS.Timeout);
  },
});

export const systemRandom: Random = Math.random;

interface Refable {
  ref(): unknown;
  unref(): unknown;
}

/**
 * Whether a pending timer keeps the process alive. Only timers of a clock whose handles can be
 * ref'd (the system clock's, or any clock returning Node timers) are touched; others are left alone.
 */
export function setTimerRef(handle: unknown, keepAlive: boolean): void {
  if (typeof handle !== 'object' || handle === null) return;
  const timer = handle as Partial<Refable>;
  if (typeof timer.ref !== 'function' || typeof timer.unref !== 'function') return;
  if (keepAlive) timer.ref();
  else timer.unref();
}
