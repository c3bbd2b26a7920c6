// Header values in and out: Retry-After, Idempotency-Key, the remaining-deadline header.

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `now`; `undefined` when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1_000;
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) names its month; Date.parse alone would also
  // read '-5' or '1.5' as dates.
  if (!/[A-Za-z]/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A Retry-After value in whole seconds, rounded up (never 0 for a wait that is not). */
export function formatRetryAfter(ms: number): string {
  return String(Math.max(0, Math.ceil(ms / 1_000)));
}

/**
 * The Idempotency-Key header is a Structured Field string (draft-ietf-httpapi-idempotency-key-header):
 * printable ASCII in double quotes, with `"` and `\` escaped.
 */
export function toSfString(key: string): string {
  if (!/^[\x20-\x7e]*$/.test(key)) {
    throw new TypeError(`an idempotency key must be printable ASCII, got ${JSON.stringify(key)}`);
  }
  return `"${key.replace(/[\\"]/g, '\\$&')}"`;
}

/** The key a header carries: the sf-string's content, or a bare token as it is. */
export function fromSfString(value: string): string {
  const trimmed = value.trim();
  const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(trimmed);
  return quoted === null ? trimmed : quoted[1]!.replace(/\\(.)/g, '$1');
}

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

export type IdempotencyKeyResult =
  | { ok: true; key: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'too-long' };

/**
 * Reads an Idempotency-Key header: an sf-string (`"…"`) or, as servers commonly accept, a bare
 * token. Printable ASCII only, not empty, at most `maxLength` characters, one value only.
 */
export function parseIdempotencyKey(
  value: string | readonly string[] | null | undefined,
  maxLength = IDEMPOTENCY_KEY_MAX_LENGTH,
): IdempotencyKeyResult {
  if (value === null || value === undefined) return { ok: false, reason: 'missing' };
  if (typeof value !== 'string')
    return value.length === 0 ? { ok: false, reason: 'missing' } : { ok: false, reason: 'malformed' };
  const trimmed = value.trim();
  if (trimmed === '') return { ok: false, reason: 'missing' };
  let key: string;
  if (trimmed.startsWith('"')) {
    if (!/^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"$/.test(trimmed))
      return { ok: false, reason: 'malformed' };
    key = fromSfString(trimmed);
  } else {
    // A bare token (a UUID, say): no spaces, quotes, commas (a list) or controls, and not another
    // structured type (`:bytes:`, `?1`, `@date`, `%"display"`).
    if (!/^(?![:?@%])[\x21\x23-\x2b\x2d-\x7e]+$/.test(trimmed)) return { ok: false, reason: 'malformed' };
    key = trimmed;
  }
  if (key === '') return { ok: false, reason: 'malformed' };
  if (key.length > maxLength) return { ok: false, reason: 'too-long' };
  return { ok: true, key };
}

export const DEADLINE_HEADER = 'x-request-timeout-ms';

/**
 * The deadline a request carries as remaining ms (relative, so clocks need not agree): the epoch ms
 * it ends at by `now`, or `undefined` when absent or not a non-negative integer.
 */
export function readDeadline(
  value: string | readonly string[] | null | undefined,
  now: number,
): number | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (!/^\d{1,15}$/.test(trimmed)) return undefined;
  return now + Number(trimmed);
}

/** The header value for a call ending at `deadline`: the ms left, never negative. */
export function formatDeadline(deadline: number, now: number): string {
  return String(Math.max(0, Math.floor(deadline - now)));
}
