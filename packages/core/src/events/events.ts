import { type Channel, channel } from 'node:diagnostics_channel';

/** What every event subscription returns. */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** Fields every event carries, on listeners and on diagnostics channels alike. */
export interface EventBase {
  /** The event's name, e.g. `'retry'`. */
  readonly event: string;
  /** The policy's `name`. */
  readonly name: string;
  /** The `name` of the pipeline the call ran through, or `undefined` outside `compose`. */
  readonly pipeline: string | undefined;
}

export type Listener<T> = (event: T) => void;

function reportListenerError(error: unknown): void {
  // A broken listener must not change the outcome of the call it observes.
  process.emitWarning(
    `A Breakwater event listener threw: ${error instanceof Error ? error.message : String(error)}`,
    { code: 'BREAKWATER_LISTENER_ERROR' },
  );
}

/**
 * One event of one policy: typed listeners plus the diagnostics channels `breakwater:<kind>`
 * (every event of the kind, with an `event` field) and `breakwater:<kind>:<event>`. Publishers check
 * `active` before building a payload, so an event nobody listens to costs a branch.
 */
export class EventSlot<T extends EventBase> {
  /** Replaced, never mutated, on subscribe and dispose (an emit in progress keeps its array). */
  listeners: readonly Listener<T>[] = [];
  readonly kindChannel: Channel;
  readonly eventChannel: Channel;

  constructor(
    kind: string,
    readonly event: string,
  ) {
    this.kindChannel = channel(`breakwater:${kind}`);
    this.eventChannel = channel(`breakwater:${kind}:${event}`);
  }

  get active(): boolean {
    return this.listeners.length !== 0 || this.kindChannel.hasSubscribers || this.eventChannel.hasSubscribers;
  }

  on(listener: Listener<T>): Disposable {
    if (typeof listener !== 'function') {
      throw new TypeError(
        `on${this.event[0]?.toUpperCase()}${this.event.slice(1)}: listener must be a function`,
      );
    }
    // Copy on write: an emit in progress keeps iterating the array it started with.
    this.listeners = [...this.listeners, listener];
    let disposed = false;
    const dispose = (): void => {
      if (disposed) return;
      disposed = true;
      const index = this.listeners.indexOf(listener);
      if (index !== -1) this.listeners = this.listeners.filter((_, i) => i !== index);
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  emit(message: T): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (error) {
        reportListenerError(error);
      }
    }
    if (this.kindChannel.hasSubscribers) this.kindChannel.publish(message);
    if (this.eventChannel.hasSubscribers) this.eventChannel.publish(message);
  }
}

export interface NextEventOptions<T> {
  /** Stops waiting: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Only an event this accepts settles the promise. */
  filter?: (event: T) => boolean;
}

/**
 * The next event of a subscription, as a promise: `await nextEvent(breaker.onStateChange)`. The
 * listener is removed as soon as the event arrives or the signal aborts.
 */
export function nextEvent<T>(
  subscribe: (listener: Listener<T>) => Disposable,
  options: NextEventOptions<T> = {},
): Promise<T> {
  if (typeof subscribe !== 'function') {
    return Promise.reject(new TypeError('nextEvent: expected an event method, such as policy.onRetry'));
  }
  const { signal, filter } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      subscription.dispose();
      reject(signal!.reason);
    };
    const subscription = subscribe((event) => {
      if (filter !== undefined && !filter(event)) return;
      subscription.dispose();
      signal?.removeEventListener('abort', onAbort);
      resolve(event);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
