// A virtual clock for discrete-event simulation: time moves only from one timer to the next, and
// every promise chain a timer starts settles before the next timer runs. The policies under test
// take it as their `clock`, so a simulated minute costs what its events cost, not a minute.

import type { Clock } from '@breakwater/core';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** setImmediate runs once the microtask queue is empty: every chain a timer started has settled. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly heap: Timer[] = [];
  /** Timers run so far. */
  events = 0;

  constructor(startMs = 0) {
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    // As the system clock: NaN is 0, negative is 0, Infinity never runs.
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    const timer: Timer = { due: this.time + delay, seq: this.seq++, fn, cancelled: false };
    if (timer.due !== Number.POSITIVE_INFINITY) this.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    if (handle !== null && typeof handle === 'object') (handle as Timer).cancelled = true;
  }

  /** Runs every timer due up to `untilMs`, in order, then leaves the clock at `untilMs`. */
  async runUntil(untilMs: number): Promise<void> {
    await settle();
    for (;;) {
      const next = this.peek();
      if (next === undefined || next.due > untilMs) break;
      this.pop();
      this.time = next.due;
      this.events++;
      next.fn();
      await settle();
    }
    this.time = Math.max(this.time, untilMs);
  }

  /** Timers waiting (cancelled ones are dropped as they come up). */
  get pending(): number {
    return this.heap.filter((t) => !t.cancelled).length;
  }

  private peek(): Timer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private less(a: Timer, b: Timer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && this.less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

/** Resolves after `ms` on `clock`. */
export const sleep = (clock: Clock, ms: number): Promise<void> =>
  new Promise((resolve) => clock.setTimeout(resolve, ms));
