import type { Clock } from '../clock/clock.js';
import type { ExecutionContext } from './context.js';

interface Waiter<T> {
  prev: Waiter<T> | undefined;
  next: Waiter<T> | undefined;
  readonly data: T;
  grant(): void;
}

/**
 * Calls waiting for a slot, in arrival order: a doubly linked list, so a waiter that aborts or times
 * out leaves in O(1) and never takes a slot. The owner decides who is served: the oldest (bulkhead,
 * FIFO) or the newest it can admit (loadShed, LIFO).
 */
export class WaitQueue<T> {
  private head: Waiter<T> | undefined;
  private tail: Waiter<T> | undefined;
  size = 0;

  constructor(private readonly clock: Clock) {}

  private unlink(waiter: Waiter<T>): void {
    if (waiter.prev === undefined) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.size--;
  }

  /**
   * Waits until granted; rejects with the scope's abort reason when `ctx` aborts, or with what
   * `timedOut()` gives after `timeoutMs` (Infinity: no timer). Either way the waiter has left.
   */
  wait(ctx: ExecutionContext, data: T, timeoutMs: number, timedOut: () => unknown): Promise<void> {
    if (ctx.aborted) return Promise.reject(ctx.abortReason);
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const waiter: Waiter<T> = {
        prev: this.tail,
        next: undefined,
        data,
        grant: () => {
          unsubscribe();
          if (timer !== undefined) this.clock.clearTimeout(timer);
          resolve();
        },
      };
      if (this.tail === undefined) this.head = waiter;
      else this.tail.next = waiter;
      this.tail = waiter;
      this.size++;
      const unsubscribe = ctx.onAbort((reason) => {
        this.unlink(waiter);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        reject(reason);
      });
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = this.clock.setTimeout(() => {
          unsubscribe();
          this.unlink(waiter);
          reject(timedOut());
        }, timeoutMs);
      }
    });
  }

  /** Grants the oldest waiter; `false` when none waits. */
  grantOldest(): boolean {
    const waiter = this.head;
    if (waiter === undefined) return false;
    this.unlink(waiter);
    waiter.grant();
    return true;
  }

  /** Grants the newest waiter whose data `accept` takes; `false` when none does. */
  grantNewest(accept: (data: T) => boolean): boolean {
    for (let waiter = this.tail; waiter !== undefined; waiter = waiter.prev) {
      if (accept(waiter.data)) {
        this.unlink(waiter);
        waiter.grant();
        return true;
      }
    }
    return false;
  }
}

/**
 * The two handlers that give a slot back when a call settles, passing its outcome on: made once per
 * policy, so a call holding a slot allocates no closure for it.
 */
export function releasing(release: () => void): [(value: unknown) => unknown, (error: unknown) => never] {
  return [
    (value) => {
      release();
      return value;
    },
    (error) => {
      release();
      throw error;
    },
  ];
}
