import { BlockList, isIP } from 'node:net';

/** What a key function needs of a request, whichever framework made it. */
export interface RequestLike {
  /** The socket's peer address. */
  remoteAddress?: string | undefined;
  headers: Record<string, string | readonly string[] | undefined>;
}

export type KeyFunction = (request: RequestLike) => string | undefined;

export interface IpKeyOptions {
  /**
   * Proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges (`'10.0.0.0/8'`,
   * `'::1'`), or `'loopback'`. Without any, the header is ignored and the socket's address is the key.
   * @default none
   */
  trustedProxies?: readonly string[];
  /** IPv6 clients are grouped by this prefix length (one home or site gets a /56). @default 56 */
  ipv6Subnet?: number;
}

/** `::ffff:1.2.3.4` is 1.2.3.4. */
function normalize(address: string): string {
  const trimmed = address.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped === null ? trimmed : mapped[1]!;
}

/** The eight 16-bit groups of an IPv6 address. */
function groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array(Math.max(0, fill)).fill(0), ...right].slice(0, 8);
}

/** `2001:db8:1234:56ab::1` with a /56 is `2001:db8:1234:5600::/56`. */
export function ipv6Prefix(address: string, bits: number): string {
  const g = groups(address);
  const out = g.map((value, i) => {
    const start = i * 16;
    if (start >= bits) return 0;
    if (start + 16 <= bits) return value;
    const keep = bits - start;
    return value & (0xffff << (16 - keep)) & 0xffff;
  });
  // Shortest form: the longest run of zero groups becomes `::`.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (out[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && out[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = out.map((v) => v.toString(16));
  const text =
    bestLen >= 2 ? `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}` : hex.join(':');
  return `${text}/${bits}`;
}

function trustList(proxies: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of proxies) {
    if (entry === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4');
      list.addAddress('::1', 'ipv6');
      continue;
    }
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    if (family === 0)
      throw new TypeError(`keys.ip: "${entry}" in trustedProxies is not an address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else {
      const bits = Number(prefix);
      if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
        throw new TypeError(`keys.ip: "${entry}" in trustedProxies has a bad prefix length`);
      }
      list.addSubnet(address, bits, type);
    }
  }
  return list;
}

/**
 * The client's address as its key: the socket's, or, when the socket is a trusted proxy, the
 * rightmost `X-Forwarded-For` address that is not one of the trusted proxies. IPv6 addresses are
 * grouped by `ipv6Subnet` so one client cannot dodge a limit by walking its own /64s.
 */
function ip(options: IpKeyOptions = {}): KeyFunction {
  const bits = options.ipv6Subnet ?? 56;
  if (!Number.isInteger(bits) || bits < 1 || bits > 128) {
    throw new RangeError('keys.ip: option "ipv6Subnet" must be an integer in 1..128');
  }
  const trusted = options.trustedProxies === undefined ? undefined : trustList(options.trustedProxies);
  const isTrusted = (address: string): boolean => {
    const family = isIP(address);
    return trusted !== undefined && family !== 0 && trusted.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
  const keyOf = (address: string): string => (isIP(address) === 6 ? ipv6Prefix(address, bits) : address);
  return (request) => {
    const peer = request.remoteAddress === undefined ? undefined : normalize(request.remoteAddress);
    if (peer === undefined || isIP(peer) === 0) return undefined;
    if (!isTrusted(peer)) return keyOf(peer);
    const header = request.headers['x-forwarded-for'];
    const joined = typeof header === 'string' ? header : (header ?? []).join(',');
    const chain = joined
      .split(',')
      .map(normalize)
      .filter((a: string) => a !== '');
    for (let i = chain.length - 1; i >= 0; i--) {
      const hop = chain[i]!;
      if (isIP(hop) === 0) return keyOf(peer); // a malformed hop: believe nothing further left
      if (!isTrusted(hop)) return keyOf(hop);
    }
    return keyOf(chain[0] ?? peer);
  };
}

/** A header's value as the key (a tenant id, an API key). Reading `X-Forwarded-For` this way is warned about. */
function header(name: string): KeyFunction {
  if (typeof name !== 'string' || name === '')
    throw new TypeError('keys.header: the header name must be a non-empty string');
  const lower = name.toLowerCase();
  if (lower === 'x-forwarded-for' || lower === 'forwarded') {
    process.emitWarning(
      `keys.header('${name}') believes any client: anyone can send this header. Use keys.ip({ trustedProxies }) instead.`,
      { code: 'BW_KEY_UNTRUSTED_FORWARDED' },
    );
  }
  return (request) => {
    const value = request.headers[lower];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined || first === '' ? undefined : String(first);
  };
}

export const keys = Object.freeze({ ip, header });
