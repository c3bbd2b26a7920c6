import type { Random } from '../clock/clock.js';
import { checkOptions, finiteNumber, given, oneOf, optionError } from '../errors/validate.js';

export type Jitter = 'none' | 'full' | 'equal';
export type ExponentialJitter = Jitter | 'decorrelated';

/**
 * A delay schedule. Pure: the same inputs give the same delay. Write your own as any object with a
 * `delayMs` method; `kind` is only a label.
 */
export interface Backoff {
  /** A label: `'constant'`, `'linear'` and `'exponential'` for the built-ins, anything for yours. */
  readonly kind?: string;
  /**
   * Delay in ms before the `n`-th retry (1-based). `previousMs` is the delay returned for `n - 1`
   * (decorrelated jitter grows from it); `random` defaults to `Math.random`. Finite and >= 0.
   */
  delayMs(n: number, previousMs?: number, random?: Random): number;
}

export interface ConstantBackoffOptions {
  delayMs: number;
  /** @default 'none' */
  jitter?: Jitter;
}
export interface LinearBackoffOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default 100 */
  stepMs?: number;
  /** @default 10_000 */
  maxMs?: number;
  /** @default 'none' */
  jitter?: Jitter;
}
export interface ExponentialBackoffOptions {
  /** @default 100 */
  initialMs?: number;
  /** @default 10_000 */
  maxMs?: number;
  /** @default 2 */
  factor?: number;
  /** @default 'full' */
  jitter?: ExponentialJitter;
}

export const EXPONENTIAL_DEFAULTS = Object.freeze({
  initialMs: 100,
  maxMs: 10_000,
  factor: 2,
  jitter: 'full' as ExponentialJitter,
});

export const LINEAR_DEFAULTS = Object.freeze({
  initialMs: 100,
  stepMs: 100,
  maxMs: 10_000,
  jitter: 'none' as Jitter,
});

const JITTERS = ['none', 'full', 'equal'] as const;

// Jitter per Marc Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015):
// full = random(0, d), equal = d/2 + random(0, d/2).
function applyJitter(delay: number, jitter: Jitter, random: Random): number {
  if (jitter === 'full') return random() * delay;
  if (jitter === 'equal') return delay / 2 + (random() * delay) / 2;
  return delay;
}

function checkRetryNumber(n: number): void {
  if (!(n >= 1)) throw new RangeError(`backoff: retry number must be >= 1, got ${n}`);
}

export function constant(options: ConstantBackoffOptions): Backoff {
  checkOptions('backoff.constant', options, ['delayMs', 'jitter']);
  const delay = finiteNumber('backoff.constant', 'delayMs', options.delayMs);
  const jitter = oneOf('backoff.constant', 'jitter', given(options.jitter, 'none'), JITTERS);
  return Object.freeze({
    kind: 'constant' as const,
    delayMs(n: number, _previousMs?: number, random: Random = Math.random): number {
      checkRetryNumber(n);
      return applyJitter(delay, jitter, random);
    },
  });
}

export function linear(options: LinearBackoffOptions = {}): Backoff {
  checkOptions('backoff.linear', options, ['initialMs', 'stepMs', 'maxMs', 'jitter']);
  const d = LINEAR_DEFAULTS;
  const initialMs = finiteNumber('backoff.linear', 'initialMs', given(options.initialMs, d.initialMs));
  const stepMs = finiteNumber('backoff.linear', 'stepMs', given(options.stepMs, d.stepMs));
  const maxMs = finiteNumber('backoff.linear', 'maxMs', given(options.maxMs, d.maxMs));
  if (maxMs < initialMs)
    throw optionError('backoff.linear', 'maxMs', `>= initialMs (${initialMs})`, maxMs, 'range');
  const jitter = oneOf('backoff.linear', 'jitter', given(options.jitter, d.jitter), JITTERS);
  return Object.freeze({
    kind: 'linear' as const,
    delayMs(n: number, _previousMs?: number, random: Random = Math.random): number {
      checkRetryNumber(n);
      return applyJitter(Math.min(maxMs, initialMs + stepMs * (n - 1)), jitter, random);
    },
  });
}

export function exponential(options: ExponentialBackoffOptions = {}): Backoff {
  checkOptions('backoff.exponential', options, ['initialMs', 'maxMs', 'factor', 'jitter']);
  const d = EXPONENTIAL_DEFAULTS;
  const initialMs = finiteNumber('backoff.exponential', 'initialMs', given(options.initialMs, d.initialMs));
  const maxMs = finiteNumber('backoff.exponential', 'maxMs', given(options.maxMs, d.maxMs));
  if (maxMs < initialMs) {
    throw optionError('backoff.exponential', 'maxMs', `>= initialMs (${initialMs})`, maxMs, 'range');
  }
  const factor = finiteNumber('backoff.exponential', 'factor', given(options.factor, d.factor), 1);
  const jitter = oneOf('backoff.exponential', 'jitter', given(options.jitter, d.jitter), [
    ...JITTERS,
    'decorrelated',
  ]);
  if (jitter === 'decorrelated' && options.factor !== undefined) {
    // Decorrelated jitter grows from the previous delay (up to 3×), not by a factor.
    throw new TypeError(
      'backoff.exponential: option "factor" has no effect with jitter \'decorrelated\' ' +
        '(each delay is random between initialMs and 3 × the previous one); remove it',
    );
  }
  return Object.freeze({
    kind: 'exponential' as const,
    delayMs(n: number, previousMs?: number, random: Random = Math.random): number {
      checkRetryNumber(n);
      if (jitter === 'decorrelated') {
        // Brooker's decorrelated jitter: sleep = min(cap, random(base, previous * 3)).
        const previous = Math.max(initialMs, Math.min(maxMs, previousMs ?? initialMs));
        return Math.min(maxMs, initialMs + random() * (previous * 3 - initialMs));
      }
      // factor ** (n - 1) overflows to Infinity for large n; the min keeps the delay at the cap,
      // and initialMs === 0 is handled first because 0 * Infinity is NaN.
      const raw = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * factor ** (n - 1));
      return applyJitter(raw, jitter, random);
    },
  });
}

/** Delay schedules for retry and for the breaker's `halfOpenAfterMs`. */
export const backoff = Object.freeze({ constant, linear, exponential });
