import { type Clock, setTimerRef } from './clock.js';

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
 *
 * The armed timer keeps the process alive while an entry waits on it (a call awaiting its timeout
 * must settle), and stops doing so by the end of the event-loop turn in which the queue emptied.
 * Deciding that once per turn rather than once per call keeps back-to-back calls from paying a
 * ref/unref pair each.
 */
export class TimerQueue {
  private head: TimerEntry | undefined;
  private tail: TimerEntry | undefined;
  private armedAt = Number.POSITIVE_INFINITY;
  private handle: unknown;
  /** Whether the armed handle keeps the process alive; it does exactly while the queue is not empty. */
  private refed = false;
  private readonly fire = (): void => this.onTimer();
  private releaseScheduled = false;
  private readonly releaseIfIdle = (): void => {
    this.releaseScheduled = false;
    if (this.head === undefined && this.refed) {
      this.refed = false;
      setTimerRef(this.handle, false);
    }
  };

  constructor(private readonly clock: Clock) {}

  add(entry: TimerEntry): void {
    entry.timerQueued = true;
    entry.timerNext = undefined;
    entry.timerPrev = this.tail;
    if (this.tail === undefined) this.head = entry;
    else this.tail.timerNext = entry;
    this.tail = entry;
    if (entry.expiresAt < this.armedAt) this.arm(entry.expiresAt);
    else if (!this.refed) {
      this.refed = true;
      setTimerRef(this.handle, true);
    }
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
    // The armed timer is left armed: it finds the queue changed when it fires, which costs one
    // wake-up per period instead of a clearTimeout per call. Once nothing waits on it, it must stop
    // holding the process open: checked at the end of this turn.
    if (this.head === undefined && this.refed && !this.releaseScheduled) {
      this.releaseScheduled = true;
      setImmediate(this.releaseIfIdle);
    }
  }

  private arm(at: number): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    // Measured from a fresh reading of the clock, never from a cached one: a timer must not fire early.
    this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()));
    this.refed = true;
  }

  private onTimer(): void {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.refed = false;
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
