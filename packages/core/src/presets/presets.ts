import { type BulkheadPolicy, bulkhead } from '../bulkhead/bulkhead.js';
import { breakers } from '../circuit-breaker/breakers.js';
import { type CircuitBreakerPolicy, circuitBreaker } from '../circuit-breaker/circuit-breaker.js';
import { checkOptions, nameOption, optionError } from '../errors/validate.js';
import { compose } from '../pipeline/compose.js';
import type { AnyPolicy, Policy } from '../pipeline/policy.js';
import { backoff } from '../retry/backoff.js';
import { type RetryPolicy, retry } from '../retry/retry.js';
import { type TimeoutPolicy, timeout } from '../timeout/timeout.js';
import type { HttpPresetOptions, TimeoutPart } from './options.js';

/**
 * The numbers of .NET's standard HTTP resilience handler (Microsoft.Extensions.Http.Resilience):
 * rate limiter 1 000 concurrent without a queue, total timeout 30 s, retry with exponential
 * backoff from 2 s with jitter, a breaker opening at 10% failures over 30 s (100 calls at least)
 * for 5 s, attempt timeout 10 s. .NET retries 3 times; the preset makes 3 attempts in all.
 */
export const HTTP_PRESET_DEFAULTS = Object.freeze({
  bulkhead: Object.freeze({ maxConcurrent: 1_000, maxQueue: 0 }),
  totalTimeoutMs: 30_000,
  retry: Object.freeze({
    maxAttempts: 3,
    backoff: backoff.exponential({ initialMs: 2_000, maxMs: 30_000, jitter: 'full' }),
  }),
  circuitBreaker: Object.freeze({
    breaker: breakers.time({ windowMs: 30_000, failureRate: 0.1, minCalls: 100 }),
    halfOpenAfterMs: 5_000,
  }),
  attemptTimeoutMs: 10_000,
});

export interface HttpPresetParts {
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly totalTimeout: TimeoutPolicy | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly circuitBreaker: CircuitBreakerPolicy | undefined;
  readonly attemptTimeout: TimeoutPolicy | undefined;
}

/** The preset pipeline, with its parts for events (`preset.parts.circuitBreaker.onStateChange(…)`). */
export interface HttpPreset extends Policy {
  readonly parts: HttpPresetParts;
}

const PARTS = ['name', 'bulkhead', 'totalTimeout', 'retry', 'circuitBreaker', 'attemptTimeout'];

function partOptions<T extends object>(part: string, value: unknown, defaults: T): T | undefined {
  if (value === false) return undefined;
  if (value === undefined) return defaults;
  if (typeof value !== 'object' || value === null) {
    throw optionError('presets.http', part, 'options for the part, or false to leave it out', value);
  }
  return { ...defaults, ...value };
}

function timeoutPart(
  pipeline: string,
  part: string,
  value: TimeoutPart | false | undefined,
  defaultMs: number,
): TimeoutPolicy | undefined {
  if (value === false) return undefined;
  const name = `${pipeline}.${part === 'totalTimeout' ? 'total-timeout' : 'attempt-timeout'}`;
  if (value === undefined) return timeout(defaultMs, { name });
  if (typeof value === 'number') return timeout(value, { name });
  if (typeof value !== 'object' || value === null) {
    throw optionError('presets.http', part, 'a number of ms, { ms, ...timeout options }, or false', value);
  }
  const { ms, ...rest } = value as { ms?: unknown };
  if (ms === undefined) throw optionError('presets.http', `${part}.ms`, 'a positive finite number', ms);
  return timeout(ms as number, { name, ...rest });
}

/**
 * A ready pipeline for outbound HTTP in the shape of .NET's standard resilience handler:
 * bulkhead → total timeout → retry (honouring Retry-After) → circuit breaker → attempt timeout.
 */
export function http(options: HttpPresetOptions = {}): HttpPreset {
  checkOptions('presets.http', options, PARTS);
  const d = HTTP_PRESET_DEFAULTS;
  const name = nameOption('presets.http', options.name, 'http');
  const bulkheadOptions = partOptions('bulkhead', options.bulkhead, d.bulkhead);
  const retryOptions = partOptions('retry', options.retry, d.retry);
  const breakerOptions = partOptions('circuitBreaker', options.circuitBreaker, d.circuitBreaker);
  const totalTimeout = timeoutPart(name, 'totalTimeout', options.totalTimeout, d.totalTimeoutMs);
  const attemptTimeout = timeoutPart(name, 'attemptTimeout', options.attemptTimeout, d.attemptTimeoutMs);

  if (
    totalTimeout !== undefined &&
    attemptTimeout !== undefined &&
    attemptTimeout.timeoutMs >= totalTimeout.timeoutMs
  ) {
    throw new RangeError(
      `presets.http: attemptTimeout (${attemptTimeout.timeoutMs} ms) must be shorter than totalTimeout ` +
        `(${totalTimeout.timeoutMs} ms), or no attempt could ever be retried`,
    );
  }
  const windowMs = breakerOptions?.breaker?.windowMs;
  if (windowMs !== undefined && attemptTimeout !== undefined && windowMs < 2 * attemptTimeout.timeoutMs) {
    throw new RangeError(
      `presets.http: the circuitBreaker window (${windowMs} ms) must be at least twice attemptTimeout ` +
        `(${attemptTimeout.timeoutMs} ms), or slow attempts would fall out of it before they count`,
    );
  }

  const parts: HttpPresetParts = {
    bulkhead: bulkheadOptions && bulkhead({ name: `${name}.bulkhead`, ...bulkheadOptions }),
    totalTimeout,
    retry: retryOptions && retry({ name: `${name}.retry`, ...retryOptions }),
    circuitBreaker: breakerOptions && circuitBreaker({ name: `${name}.circuit-breaker`, ...breakerOptions }),
    attemptTimeout,
  };
  const layers = [
    parts.bulkhead,
    parts.totalTimeout,
    parts.retry,
    parts.circuitBreaker,
    parts.attemptTimeout,
  ];
  const pipeline = compose(
    { name },
    ...(layers.filter((p): p is NonNullable<typeof p> => p !== undefined) as AnyPolicy[]),
  );
  return Object.assign(pipeline, { parts: Object.freeze(parts) }) as HttpPreset;
}

export const presets = Object.freeze({ http });
