/** Time source of a policy. `now()` is epoch milliseconds; real timers are unref'd. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Randomness source: returns a number in [0, 1). */
export type Random = () => number;

export const systemClock: Clock = Object.freeze({
  now: Date.now,
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  },
});

export const systemRandom: Random = Math.random;

let turnNow: number | undefined;
const endTurn = (): void => {
  turnNow = undefined;
};

/**
 * The system time as of the current event-loop turn, read once per turn. Node measures its own
 * timers the same way (libuv caches the loop time), and reading the clock per call costs more
 * than the rest of a timeout's bookkeeping.
 */
export function turnTime(): number {
  if (turnNow === undefined) {
    turnNow = Date.now();
    setImmediate(endTurn).unref();
  }
  return turnNow;
}

/** `clock.now()` for timer arithmetic: the per-turn time for the system clock, `now()` for any other. */
export function timerNow(clock: Clock): () => number {
  return clock === systemClock ? turnTime : () => clock.now();
}
