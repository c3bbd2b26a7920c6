import { checkOptions, finiteNumber, fraction, given, integer, optionError } from '../errors/validate.js';

/** One finished call, as a limit learns from it. */
export interface LimitSample {
  /** How long the call took. */
  rttMs: number;
  /** Calls in flight when it started (itself included). */
  inflight: number;
  /** Whether it was dropped: timed out, refused downstream. */
  dropped: boolean;
  now: number;
}

/** A concurrency limit: fixed, or adapting to the latencies and drops it is told of. Usable alone. */
export interface Limit {
  readonly kind: string;
  /** The number of calls allowed in flight now. */
  readonly current: number;
  update(sample: LimitSample): void;
  /** `false` for a limit that learns nothing (`limits.fixed`): calls are then not timed for it. */
  readonly learns?: boolean;
}

export interface AdaptiveLimitOptions {
  /** @default 1 */
  min?: number;
  /** @default 1_000 */
  max?: number;
  /** @default 20 */
  initial?: number;
  /**
   * Calls averaged into one sample before the limit moves (Netflix concurrency-limits'
   * `WindowedLimit`): their mean latency, the most in flight, and whether any was dropped. Per-call
   * latencies vary with the work as much as with queueing; a window's mean varies with queueing.
   * @default 10 for aimd and vegas, 1 for gradient (which smooths on its own)
   */
  windowSize?: number;
}

/** Feeds `apply` one sample per `size` calls: their mean latency, the most in flight, any drop. */
function windowed(size: number, apply: (sample: LimitSample) => void): (sample: LimitSample) => void {
  if (size === 1) return apply;
  let count = 0;
  let rttSum = 0;
  let inflight = 0;
  let dropped = false;
  return (sample) => {
    if (!(sample.rttMs >= 0) || !Number.isFinite(sample.rttMs)) return;
    count++;
    rttSum += sample.rttMs;
    inflight = Math.max(inflight, sample.inflight);
    dropped ||= sample.dropped;
    if (count < size) return;
    const rttMs = rttSum / count;
    const window = { rttMs, inflight, dropped, now: sample.now };
    count = 0;
    rttSum = 0;
    inflight = 0;
    dropped = false;
    apply(window);
  };
}

const windowSizeOf = (policy: string, options: AdaptiveLimitOptions, fallback: number): number =>
  integer(policy, 'windowSize', given(options.windowSize, fallback), 1);

function bounds(policy: string, options: AdaptiveLimitOptions) {
  const min = integer(policy, 'min', given(options.min, 1), 1);
  const max = integer(policy, 'max', given(options.max, 1_000), 1);
  if (min > max) throw optionError(policy, 'min', `<= max (${max})`, min, 'range');
  const initial = integer(policy, 'initial', given(options.initial, Math.min(max, Math.max(min, 20))), 1);
  if (initial < min || initial > max) {
    throw optionError(policy, 'initial', `between min (${min}) and max (${max})`, initial, 'range');
  }
  return { min, max, initial };
}

const clamp = (n: number, min: number, max: number): number => Math.min(max, Math.max(min, n));

/** A limit that never moves. */
export function fixed(n: number): Limit {
  const current = integer('limits.fixed', 'n', n, 1);
  return Object.freeze({ kind: 'fixed', current, learns: false, update() {} });
}

export interface AimdLimitOptions extends AdaptiveLimitOptions {
  /** The limit is multiplied by this on a drop. @default 0.9 */
  backoffRatio?: number;
  /** A call slower than this counts as a drop. @default Infinity (only real drops) */
  latencyThresholdMs?: number;
}

/**
 * Additive increase, multiplicative decrease (Netflix concurrency-limits' AIMDLimit): one more
 * while the limit is in use, × `backoffRatio` on a drop or a call over `latencyThresholdMs`.
 */
export function aimd(options: AimdLimitOptions = {}): Limit {
  checkOptions('limits.aimd', options, [
    'min',
    'max',
    'initial',
    'windowSize',
    'backoffRatio',
    'latencyThresholdMs',
  ]);
  const windowSize = windowSizeOf('limits.aimd', options, 10);
  const { min, max, initial } = bounds('limits.aimd', options);
  const backoffRatio = fraction('limits.aimd', 'backoffRatio', given(options.backoffRatio, 0.9));
  if (backoffRatio === 1)
    throw optionError('limits.aimd', 'backoffRatio', 'a fraction in (0, 1)', 1, 'range');
  const threshold =
    options.latencyThresholdMs === undefined
      ? Number.POSITIVE_INFINITY
      : finiteNumber('limits.aimd', 'latencyThresholdMs', options.latencyThresholdMs);
  let current = initial;
  return {
    kind: 'aimd',
    get current() {
      return current;
    },
    update: windowed(windowSize, ({ rttMs, inflight, dropped }) => {
      if (dropped || rttMs > threshold) current = clamp(Math.floor(current * backoffRatio), min, max);
      else if (inflight * 2 >= current) current = clamp(current + 1, min, max);
    }),
  };
}

export interface GradientLimitOptions extends AdaptiveLimitOptions {
  /** How much of each new estimate is taken (0–1). @default 0.2 */
  smoothing?: number;
  /** Samples the long-term latency average spans. @default 600 */
  longWindow?: number;
}

/**
 * Netflix concurrency-limits' Gradient2: compares the latest latency with a long-term average; the
 * limit follows their ratio (the gradient, in [0.5, 1] with a 1.5× tolerance) plus a small queue
 * allowance, smoothed. Calls well under the limit (the app is not limited by it) change nothing.
 */
export function gradient(options: GradientLimitOptions = {}): Limit {
  checkOptions('limits.gradient', options, [
    'min',
    'max',
    'initial',
    'windowSize',
    'smoothing',
    'longWindow',
  ]);
  const windowSize = windowSizeOf('limits.gradient', options, 1);
  const { min, max, initial } = bounds('limits.gradient', options);
  const smoothing = fraction('limits.gradient', 'smoothing', given(options.smoothing, 0.2));
  const longWindow = integer('limits.gradient', 'longWindow', given(options.longWindow, 600), 1);
  const tolerance = 1.5;
  let estimate = initial;
  let longRtt = 0;
  let samples = 0;
  return {
    kind: 'gradient',
    get current() {
      return Math.floor(estimate);
    },
    update: windowed(windowSize, ({ rttMs, inflight }) => {
      if (!(rttMs > 0)) return;
      // An exponential average that starts as a plain mean over the first samples.
      samples++;
      const weight = samples < 10 ? 1 / samples : 2 / (longWindow + 1);
      longRtt = longRtt + (rttMs - longRtt) * weight;
      // After a lasting rise in latency the long average drifts down again, so the limit can recover.
      if (longRtt / rttMs > 2) longRtt *= 0.95;
      if (inflight < estimate / 2) return;
      const grad = Math.max(0.5, Math.min(1, (tolerance * longRtt) / rttMs));
      const queue = Math.sqrt(estimate);
      const next = estimate * grad + queue;
      estimate = clamp(estimate * (1 - smoothing) + next * smoothing, min, max);
    }),
  };
}

export interface VegasLimitOptions extends AdaptiveLimitOptions {
  /** Below this estimated queue the limit grows. @default 3 */
  alpha?: number;
  /** Above this estimated queue the limit shrinks. @default 6 */
  beta?: number;
}

/**
 * TCP Vegas applied to concurrency (Netflix concurrency-limits' VegasLimit): the queue is estimated
 * as limit × (1 − minRtt / rtt); the limit grows while that queue is under `alpha`, shrinks over
 * `beta`, and drops by log10(limit) on a drop.
 */
export function vegas(options: VegasLimitOptions = {}): Limit {
  checkOptions('limits.vegas', options, ['min', 'max', 'initial', 'windowSize', 'alpha', 'beta']);
  const windowSize = windowSizeOf('limits.vegas', options, 10);
  const { min, max, initial } = bounds('limits.vegas', options);
  const alpha = finiteNumber('limits.vegas', 'alpha', given(options.alpha, 3));
  const beta = finiteNumber('limits.vegas', 'beta', given(options.beta, 6));
  if (alpha > beta) throw optionError('limits.vegas', 'alpha', `<= beta (${beta})`, alpha, 'range');
  let current = initial;
  let minRtt = Number.POSITIVE_INFINITY;
  return {
    kind: 'vegas',
    get current() {
      return current;
    },
    update: windowed(windowSize, ({ rttMs, inflight, dropped }) => {
      if (!(rttMs > 0)) return;
      minRtt = Math.min(minRtt, rttMs);
      const step = Math.max(1, Math.log10(current));
      if (dropped) {
        current = clamp(Math.floor(current - step), min, max);
        return;
      }
      if (inflight * 2 < current) return; // not limited by the limit: nothing learned
      const queue = Math.ceil(current * (1 - minRtt / rttMs));
      if (queue < alpha) current = clamp(Math.floor(current + step), min, max);
      else if (queue > beta) current = clamp(Math.floor(current - step), min, max);
    }),
  };
}
