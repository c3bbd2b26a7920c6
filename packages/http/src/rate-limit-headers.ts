import { createHash } from 'node:crypto';
import { toSfString } from './headers.js';

export type RateLimitDraft = 'draft-6' | 'draft-7' | 'draft-8';
export const RATE_LIMIT_DRAFTS: readonly RateLimitDraft[] = ['draft-6', 'draft-7', 'draft-8'];

export interface RateLimitInfo {
  /** Calls (quota units) allowed per window. */
  limit: number;
  /** Left in the current window. */
  remaining: number;
  /** Until the quota is back, ms. */
  resetMs: number;
  /** The window, ms. */
  windowMs: number;
  /** The policy's name (draft 8). @default 'default' */
  name?: string;
  /** The client's key (draft 8 `pk`, hashed: the key itself never leaves). */
  key?: string;
}

// The hashed partition keys of recent clients: a hash per request would cost more than the limit.
const hashed = new Map<string, string>();
function partitionKey(key: string): string {
  let pk = hashed.get(key);
  if (pk === undefined) {
    pk = createHash('sha256').update(key).digest().subarray(0, 12).toString('base64');
    if (hashed.size >= 10_000) hashed.delete(hashed.keys().next().value as string);
    hashed.set(key, pk);
  }
  return pk;
}

const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1_000));
const whole = (n: number) => Math.max(0, Math.floor(n));

/**
 * The IETF httpapi-ratelimit-headers fields, in the form of the draft asked for: draft 6's
 * `RateLimit-Limit`, `-Remaining`, `-Reset` and `RateLimit-Policy`; draft 7's combined `RateLimit`;
 * draft 8's named `RateLimit` and `RateLimit-Policy` structured fields with a partition key.
 */
export function rateLimitHeaders(
  info: RateLimitInfo,
  draft: RateLimitDraft = 'draft-8',
): Record<string, string> {
  const limit = whole(info.limit);
  const remaining = Math.min(limit, whole(info.remaining));
  const reset = seconds(info.resetMs);
  const window = seconds(info.windowMs);
  if (draft === 'draft-6') {
    return {
      'RateLimit-Policy': `${limit};w=${window}`,
      'RateLimit-Limit': String(limit),
      'RateLimit-Remaining': String(remaining),
      'RateLimit-Reset': String(reset),
    };
  }
  if (draft === 'draft-7') {
    return {
      'RateLimit-Policy': `${limit};w=${window}`,
      RateLimit: `limit=${limit}, remaining=${remaining}, reset=${reset}`,
    };
  }
  const name = toSfString(info.name ?? 'default');
  const pk = info.key === undefined ? '' : `;pk=:${partitionKey(info.key)}:`;
  return {
    'RateLimit-Policy': `${name};q=${limit};w=${window}${pk}`,
    RateLimit: `${name};r=${remaining};t=${reset}`,
  };
}
