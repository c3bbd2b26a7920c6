import { createHash } from 'node:crypto';

/**
 * The fingerprint a reused Idempotency-Key is checked against: the method, the route (the pattern,
 * not the raw URL, unless no route is known) and a SHA-256 of the body, so the same key with another
 * payload is told apart.
 */
export function requestFingerprint(method: string, route: string, body?: string | Uint8Array | null): string {
  const hash = createHash('sha256');
  if (body !== undefined && body !== null) hash.update(body);
  return `${method.toUpperCase()} ${route} ${hash.digest('base64url')}`;
}
