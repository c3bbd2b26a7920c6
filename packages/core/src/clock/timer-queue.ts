import { type Clock, timerNow } from './clock.js';

/** An entry of a TimerQueue; the owner extends it (a timeout's scope is its own entry). */
export interface TimerEntry {
  expiresAt: number;
  timerPrev: TimerEntry | undefined;
  timerNext: TimerEntry | undefined;
  /** Whether the entry is queued: removal is O(1) and idempotent. */
  timerQueued: boolean;
  onExpire(): void;
}

/**
 * Many timers sharing one real timer. Entries of one queue all have the same duration, so they
 * expire in the order they were added: the queue is a FIFO linked list, cancelling unlinks in O(1),
 * and a single clock timer is armed for the head. This is how a timeout costs less than a
 * setTimeout/clearTimeout pair per call.
 */
export class TimerQueue {
  private head: TimerEntry | undefined;
  private tail: TimerEntry | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private handle: unknown;
  private readonly fire = (): void => this.onTimer();
  private readonly now: () => number;

  constructor(private readonly clock: Clock) {
    this.now = timerNow(clock);
  }

  add(entry: TimerEntry): void {
    entry.timerQueued = true;
    entry.timerNext = undefined;
    entry.timerPrev = this.tail;
    if (this.tail === undefined) this.head = entry;
    else this.tail.timerNext = entry;
    this.tail = entry;
    if (entry.expiresAt < this.armedAt) this.arm(entry.expiresAt);
  }

  remove(entry: TimerEntry): void {
    if (!entry.timerQueued) return;
    entry.timerQueued = false;
    const { timerPrev: prev, timerNext: next } = entry;
    if (prev === undefined) this.head = next;
    else prev.timerNext = next;
    if (next === undefined) this.tail = prev;
    else next.timerPrev = prev;
    entry.timerPrev = undefined;
    entry.timerNext = undefined;
    // The armed timer is left alone: it finds the queue changed when it fires, which costs one
    // wake-up per period instead of a clearTimeout per call.
  }

  private arm(at: number): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.now()));
  }

  private onTimer(): void {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    let entry = this.head;
    while (entry !== undefined && entry.expiresAt <= now) {
      this.remove(entry);
      entry.onExpire();
      entry = this.head;
    }
    if (entry !== undefined) this.arm(entry.expiresAt);
  }
}
