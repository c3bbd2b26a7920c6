import type { ExecutionContext } from './context.js';

/**
 * One abort listener per caller signal, however many calls share it. A server often passes one
 * long-lived signal (shutdown, request) to many concurrent calls; a listener per call would cost an
 * addEventListener/removeEventListener pair each and trip Node's MaxListeners warning at eleven.
 * Calls register in a map instead; the listener is removed as soon as no call is left, so a settled
 * call never leaves a listener behind.
 */
class SignalWatch {
  readonly calls = new Map<ExecutionContext, (reason: unknown) => void>();
  private listening = false;

  constructor(private readonly signal: AbortSignal) {}

  private readonly onAbort = (): void => {
    const reason = this.signal.reason;
    const calls = [...this.calls];
    this.calls.clear();
    this.stop();
    for (const [ctx, reject] of calls) {
      ctx.abort(reason);
      reject(reason);
    }
  };

  add(ctx: ExecutionContext, reject: (reason: unknown) => void): void {
    this.calls.set(ctx, reject);
    if (!this.listening) {
      this.listening = true;
      this.signal.addEventListener('abort', this.onAbort);
    }
  }

  delete(ctx: ExecutionContext): void {
    this.calls.delete(ctx);
    if (this.calls.size === 0) this.stop();
  }

  private stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

const watches = new WeakMap<AbortSignal, SignalWatch>();

const ignore = (): void => {};

/**
 * Settles with `promise`, or rejects with the caller's `signal.reason` as soon as it aborts. The
 * pipeline has already started when this runs, so an abort during fn's synchronous first step (no
 * event fires for a listener added afterwards) is caught here and handled like any other.
 */
export function settleWithCallerSignal<T>(
  ctx: ExecutionContext,
  signal: AbortSignal,
  promise: Promise<T>,
): Promise<T> {
  if (signal.aborted) {
    promise.then(ignore, ignore);
    ctx.abort(signal.reason);
    return Promise.reject(signal.reason);
  }
  let watch = watches.get(signal);
  if (watch === undefined) {
    watch = new SignalWatch(signal);
    watches.set(signal, watch);
  }
  const w = watch;
  return new Promise<T>((resolve, reject) => {
    w.add(ctx, reject);
    promise.then(
      (value) => {
        w.delete(ctx);
        resolve(value);
      },
      (error: unknown) => {
        w.delete(ctx);
        reject(error);
      },
    );
  });
}
