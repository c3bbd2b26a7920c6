import type { Clock } from '../clock/clock.js';

export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, running due timers in order and letting promises settle between them. */
  advance(ms: number): Promise<void>;
  /** Runs every timer, including ones that timers schedule, until none is left. */
  runAll(): Promise<void>;
  /** Timers scheduled and not yet run or cleared. */
  readonly pending: number;
}

export interface FakeClockOptions {
  /** Starting time, epoch ms. @default 0 */
  now?: number;
  /** `runAll` gives up after this many timers, so a timer that re-arms itself cannot hang a test. @default 100_000 */
  maxTimers?: number;
}

interface Timer {
  id: number;
  due: number;
  fn: () => void;
}

/** Lets every microtask and promise chain settle (setImmediate runs after the microtask queue drains). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A clock whose time moves only when a test says so. */
export function createFakeClock(options: FakeClockOptions = {}): FakeClock {
  let now = options.now ?? 0;
  const maxTimers = options.maxTimers ?? 100_000;
  let nextId = 1;
  const timers: Timer[] = [];

  function nextDue(limit: number): Timer | undefined {
    let found: Timer | undefined;
    for (const timer of timers) {
      if (
        timer.due <= limit &&
        (found === undefined || timer.due < found.due || (timer.due === found.due && timer.id < found.id))
      ) {
        found = timer;
      }
    }
    return found;
  }

  function runTimer(timer: Timer): void {
    timers.splice(timers.indexOf(timer), 1);
    now = Math.max(now, timer.due);
    timer.fn();
  }

  return {
    now: () => now,
    setTimeout(fn: () => void, ms: number): unknown {
      if (typeof fn !== 'function') throw new TypeError('fake clock: setTimeout needs a function');
      const id = nextId++;
      // As the system clock does: any finite delay is waited out in full, NaN is 0, Infinity is never.
      const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
      timers.push({ id, due: now + delay, fn });
      return id;
    },
    clearTimeout(handle: unknown): void {
      const index = timers.findIndex((t) => t.id === handle);
      if (index !== -1) timers.splice(index, 1);
    },
    async advance(ms: number): Promise<void> {
      if (!(ms >= 0) || !Number.isFinite(ms))
        throw new RangeError(`fake clock: advance(ms) needs a finite ms >= 0, got ${ms}`);
      const target = now + ms;
      await settle();
      for (let timer = nextDue(target); timer !== undefined; timer = nextDue(target)) {
        runTimer(timer);
        await settle();
      }
      now = target;
      await settle();
    },
    async runAll(): Promise<void> {
      await settle();
      for (let ran = 0; timers.length > 0; ran++) {
        if (ran >= maxTimers)
          throw new Error(`fake clock: runAll stopped after ${maxTimers} timers; a timer keeps re-arming`);
        const timer = nextDue(Number.MAX_VALUE); // a timer due at Infinity never runs
        if (timer === undefined) break;
        runTimer(timer);
        await settle();
      }
    },
    get pending(): number {
      return timers.length;
    },
  };
}
