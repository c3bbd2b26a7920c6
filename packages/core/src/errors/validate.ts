// Option checks shared by every policy. Messages name the policy, the option, what was expected
// and what was given, so a typo is found from the stack trace alone.

/**
 * An option's value, or its default when the option is absent. Only `undefined` means absent: a
 * `null` is a value, and is checked (and refused) like any other.
 */
export function given<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

/** A short description of a given value, for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export function optionError(
  policy: string,
  option: string,
  expected: string,
  given: unknown,
  kind: 'type' | 'range' = 'type',
): TypeError | RangeError {
  const message = `${policy}: option "${option}" must be ${expected}, got ${describe(given)}`;
  return kind === 'range' ? new RangeError(message) : new TypeError(message);
}

function checkNumber(
  policy: string,
  option: string,
  value: unknown,
  expected: string,
  ok: (n: number) => boolean,
): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw optionError(policy, option, expected, value);
  if (!ok(value)) throw optionError(policy, option, expected, value, 'range');
  return value;
}

/** A finite number >= min (default 0). */
export function finiteNumber(policy: string, option: string, value: unknown, min = 0): number {
  return checkNumber(
    policy,
    option,
    value,
    `a finite number >= ${min}`,
    (n) => Number.isFinite(n) && n >= min,
  );
}

export function positiveFinite(policy: string, option: string, value: unknown): number {
  return checkNumber(policy, option, value, 'a positive finite number', (n) => Number.isFinite(n) && n > 0);
}

/** An integer >= min; `allowInfinity` also accepts `Infinity` (a risky choice the user must spell out). */
export function integer(
  policy: string,
  option: string,
  value: unknown,
  min: number,
  allowInfinity = false,
): number {
  const expected = `an integer >= ${min}${allowInfinity ? ' (or Infinity)' : ''}`;
  return checkNumber(
    policy,
    option,
    value,
    expected,
    (n) => (Number.isInteger(n) && n >= min) || (allowInfinity && n === Number.POSITIVE_INFINITY),
  );
}

/** A number in [0, 1] (0 allowed: a rate of nothing). */
export function unitInterval(policy: string, option: string, value: unknown): number {
  return checkNumber(policy, option, value, 'a number in [0, 1]', (n) => n >= 0 && n <= 1);
}

export function fraction(policy: string, option: string, value: unknown): number {
  return checkNumber(policy, option, value, 'a fraction in (0, 1]', (n) => n > 0 && n <= 1);
}

export function oneOf<T extends string>(
  policy: string,
  option: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw optionError(policy, option, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

export function func<T>(policy: string, option: string, value: unknown): T {
  if (typeof value !== 'function') throw optionError(policy, option, 'a function', value);
  return value as T;
}

/** An object with the given methods (a store, a lock provider, a limiter). */
export function withMethods<T>(
  policy: string,
  option: string,
  value: unknown,
  methods: readonly string[],
  expected: string,
): T {
  const o = value as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || !methods.every((m) => typeof o[m] === 'function')) {
    throw optionError(policy, option, expected, value);
  }
  return value as T;
}

export function plainObject(policy: string, option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw optionError(policy, option, 'an object', value);
  }
  return value as Record<string, unknown>;
}

/** Rejects option names the policy does not know, so `{ maxAttempt: 5 }` fails loudly. */
export function knownKeys(policy: string, options: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${policy}: unknown option "${key}"; known options are ${known.join(', ')}`);
    }
  }
}

export function nameOption(policy: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '')
    throw optionError(policy, 'name', 'a non-empty string', value);
  return value;
}

interface ClockLike {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export function clockOption<C extends ClockLike>(policy: string, value: unknown, fallback: C): C {
  if (value === undefined) return fallback;
  const clock = value as Partial<ClockLike> | null;
  if (
    typeof clock !== 'object' ||
    clock === null ||
    typeof clock.now !== 'function' ||
    typeof clock.setTimeout !== 'function' ||
    typeof clock.clearTimeout !== 'function'
  ) {
    throw optionError(policy, 'clock', 'an object with now(), setTimeout() and clearTimeout()', value);
  }
  return value as C;
}

export function randomOption(policy: string, value: unknown, fallback: () => number): () => number {
  if (value === undefined) return fallback;
  return func(policy, 'random', value);
}

/** The checks every policy runs first: an options object, with no option names it does not know. */
export function checkOptions(policy: string, options: unknown, known: readonly string[]): void {
  knownKeys(policy, plainObject(policy, 'options', options), known);
}
