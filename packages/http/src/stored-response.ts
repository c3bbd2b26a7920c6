/** A response as idempotency and cache keep it, to replay later. */
export interface StoredResponse {
  status: number;
  /** Only allow-listed headers; never `set-cookie`. Lower-case names. */
  headers: Record<string, string>;
  /** The body, base64 (bytes survive any serializer). */
  body: string;
  /** The response set a cookie (not kept): it belonged to one client, so a shared cache does not keep it. */
  setCookie?: true;
}

/** Headers a replay may carry by default: what describes the body, not the session or the connection. */
export const REPLAYED_HEADERS: readonly string[] = [
  'content-type',
  'content-language',
  'content-encoding',
  'content-location',
  'location',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
  'vary',
];

/** Headers never stored, whatever the allow-list says: a replay must not hand one client another's session. */
const NEVER = new Set([
  'set-cookie',
  'set-cookie2',
  'authorization',
  'proxy-authenticate',
  'www-authenticate',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'content-length',
]);

export function storeResponse(
  status: number,
  headers: Record<string, string | number | readonly string[] | undefined>,
  body: string | Uint8Array,
  allow: readonly string[] = REPLAYED_HEADERS,
): StoredResponse {
  const allowed = new Set(allow.map((h) => h.toLowerCase()));
  const kept: Record<string, string> = {};
  let setCookie = false;
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower === 'set-cookie' && value !== undefined) setCookie = true;
    if (value === undefined || NEVER.has(lower) || !allowed.has(lower)) continue;
    kept[lower] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  const bytes =
    typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const stored: StoredResponse = { status, headers: kept, body: bytes.toString('base64') };
  if (setCookie) stored.setCookie = true;
  return stored;
}

/** The body bytes of a stored response. */
export const storedBody = (stored: StoredResponse): Buffer => Buffer.from(stored.body, 'base64');

/** The header a replayed response carries. */
export const REPLAYED_HEADER = 'idempotent-replayed';
