import dns from 'node:dns';
import net from 'node:net';
import { blockedUrlError } from './errors.js';

/**
 * SSRF policy for tool webhooks. A webhook URL comes from configuration, but the name it points at
 * can resolve anywhere; the bridge refuses every address that reaches into its own host or network
 * (loopback, private ranges, link-local and cloud metadata, CGNAT, ...), checked on the addresses
 * DNS actually returns and then connected to directly, so no second resolution can swap them.
 */

export type BlockReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'metadata'
  | 'cgnat'
  | 'unique_local'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'invalid';

interface Range {
  prefix: number[];
  bits: number;
  reason: BlockReason;
}

/** Order matters: the first match wins, so narrow ranges (metadata) precede their parents. */
const V4_RANGES: Range[] = [
  { prefix: [0, 0, 0, 0], bits: 32, reason: 'unspecified' },
  { prefix: [0], bits: 8, reason: 'reserved' }, // "this network"
  { prefix: [10], bits: 8, reason: 'private' },
  { prefix: [100, 64], bits: 10, reason: 'cgnat' },
  { prefix: [127], bits: 8, reason: 'loopback' },
  { prefix: [169, 254, 169, 254], bits: 32, reason: 'metadata' },
  { prefix: [169, 254], bits: 16, reason: 'link_local' },
  { prefix: [172, 16], bits: 12, reason: 'private' },
  { prefix: [192, 0, 0], bits: 24, reason: 'reserved' },
  { prefix: [192, 0, 2], bits: 24, reason: 'documentation' },
  { prefix: [192, 88, 99], bits: 24, reason: 'reserved' },
  { prefix: [192, 168], bits: 16, reason: 'private' },
  { prefix: [198, 18], bits: 15, reason: 'reserved' },
  { prefix: [198, 51, 100], bits: 24, reason: 'documentation' },
  { prefix: [203, 0, 113], bits: 24, reason: 'documentation' },
  { prefix: [224], bits: 4, reason: 'multicast' },
  { prefix: [240], bits: 4, reason: 'reserved' }, // includes 255.255.255.255
];

/** `::` and `::1`, checked before the IPv4-compatible form `::a.b.c.d` that would contain them. */
const V6_EXACT: Range[] = [
  { prefix: [], bits: 128, reason: 'unspecified' },
  { prefix: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], bits: 128, reason: 'loopback' },
];

const V6_RANGES: Range[] = [
  { prefix: [0x01, 0x00, 0, 0, 0, 0, 0, 0], bits: 64, reason: 'reserved' }, // discard 100::/64
  { prefix: [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], bits: 48, reason: 'reserved' }, // local NAT64
  { prefix: [0x20, 0x01, 0x0d, 0xb8], bits: 32, reason: 'documentation' },
  { prefix: [0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54], bits: 128, reason: 'metadata' },
  { prefix: [0xfc], bits: 7, reason: 'unique_local' },
  { prefix: [0xfe, 0x80], bits: 10, reason: 'link_local' },
  { prefix: [0xfe, 0xc0], bits: 10, reason: 'private' }, // deprecated site-local
  { prefix: [0xff], bits: 8, reason: 'multicast' },
];

function matches(bytes: Uint8Array, r: Range): boolean {
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const want = r.prefix[i] ?? 0;
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== (want & mask)) return false;
  }
  return true;
}

/** Strips URL brackets and an IPv6 zone id (`fe80::1%eth0`). */
function bare(ip: string): string {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const pct = s.indexOf('%');
  return pct >= 0 ? s.slice(0, pct) : s;
}

function parseV4(s: string): Uint8Array {
  return Uint8Array.from(s.split('.').map((p) => Number(p)));
}

function parseV6(s: string): Uint8Array {
  let text = s.toLowerCase();
  let v4: number[] = [];
  if (text.includes('.')) {
    // Dotted IPv4 tail (`::ffff:1.2.3.4`) becomes the last two hextets.
    const lastColon = text.lastIndexOf(':');
    const b = parseV4(text.slice(lastColon + 1));
    v4 = [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const hex = (part: string): number[] => (part ? part.split(':').map((h) => parseInt(h, 16)) : []);
  let groups: number[];
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    const head = hex(text.slice(0, dbl));
    const tail = hex(text.slice(dbl + 2)).concat(v4);
    groups = head.concat(new Array<number>(8 - head.length - tail.length).fill(0), tail);
  } else {
    groups = hex(text).concat(v4);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? 0; // a group the text did not give reads as 0
    out[i * 2] = (g >> 8) & 0xff;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

/** Parses an IP literal into 4 or 16 bytes; null when it is not one. */
export function parseIp(ip: string): Uint8Array | null {
  const s = bare(ip);
  const kind = net.isIP(s);
  if (kind === 4) return parseV4(s);
  if (kind === 6) return parseV6(s);
  return null;
}

function classifyV4(b: Uint8Array): BlockReason | null {
  for (const r of V4_RANGES) if (matches(b, r)) return r.reason;
  return null;
}

const allZero = (b: Uint8Array, from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);

/**
 * The IPv4 addresses an IPv6 address carries, for the forms that reach (or are translated to) an
 * IPv4 host: IPv4-mapped `::ffff:0:0/96`, SIIT `::ffff:0:0:0/96`, IPv4-compatible `::/96`, NAT64
 * `64:ff9b::/96`, 6to4 `2002::/16` and Teredo `2001::/32` (its server, and its client stored
 * inverted). Undefined for any other address.
 */
function embeddedV4(b: Uint8Array): Uint8Array[] | undefined {
  if (allZero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return [b.subarray(12)]; // mapped
  if (allZero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && allZero(b, 10, 12)) return [b.subarray(12)]; // SIIT
  if (allZero(b, 0, 12)) return [b.subarray(12)]; // compatible (:: and ::1 are judged before)
  if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && allZero(b, 4, 12)) return [b.subarray(12)];
  if (b[0] === 0x20 && b[1] === 0x02) return [b.subarray(2, 6)]; // 6to4
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) {
    return [b.subarray(4, 8), b.subarray(12).map((x) => x ^ 0xff)]; // Teredo: server, client
  }
  return undefined;
}

/**
 * Why an address must not be contacted, or null when it is a public unicast address. An IPv6
 * address that embeds IPv4 addresses (embeddedV4) is judged by them — by the first one that is
 * refused — so `::ffff:127.0.0.1`, `::ffff:0:7f00:1` and `64:ff9b::7f00:1` are all loopback.
 */
export function classifyIp(ip: string): BlockReason | null {
  const b = parseIp(ip);
  if (!b) return 'invalid';
  if (b.length === 4) return classifyV4(b);
  for (const r of V6_EXACT) if (matches(b, r)) return r.reason;
  const inner = embeddedV4(b);
  if (inner) {
    for (const v4 of inner) {
      const reason = classifyV4(v4);
      if (reason) return reason;
    }
    return null;
  }
  for (const r of V6_RANGES) if (matches(b, r)) return r.reason;
  return null;
}

/** Normalises a host the way WHATWG URL does (lower case, no brackets, canonical IPv6). */
export function normalizeHost(host: string): string {
  const s = bare(host).toLowerCase();
  try {
    return bare(new URL(`http://${net.isIPv6(s) ? `[${s}]` : s}/`).hostname);
  } catch {
    return s;
  }
}

/** `localhost` and `*.localhost` always mean this machine (RFC 6761), whatever DNS says. */
export function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

export type UrlCheck = { ok: true; url: URL; host: string; allowListed: boolean } | { ok: false; reason: string };

/**
 * The static part of the policy, run at load time and again before each request: https only
 * (plain http only for allow-listed dev hosts), no credentials in the URL, no literal internal IP.
 */
export function checkWebhookUrl(raw: string, allowHosts: ReadonlySet<string>): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  const host = bare(url.hostname).toLowerCase();
  const allowListed = allowHosts.has(host);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowListed)) {
    return { ok: false, reason: 'scheme must be https' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' };
  if (allowListed) return { ok: true, url, host, allowListed };
  if (net.isIP(host)) {
    const reason = classifyIp(host);
    if (reason) return { ok: false, reason: `address is ${reason}` };
  } else if (isLocalhostName(host)) {
    return { ok: false, reason: 'address is loopback' };
  }
  return { ok: true, url, host, allowListed };
}

export type Resolver = (hostname: string) => Promise<dns.LookupAddress[]>;

const systemResolver: Resolver = (hostname) => dns.promises.lookup(hostname, { all: true, verbatim: true });

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that resolves the name, refuses the connection if ANY returned
 * address is internal, and hands exactly the checked addresses to the socket. Because the socket
 * connects to what was checked, a rebinding DNS server gets no second answer to exploit.
 */
export function guardedLookup(resolver: Resolver = systemResolver) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback): void => {
    resolver(hostname).then(
      (all) => {
        if (all.length === 0) return callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '');
        for (const a of all) {
          const reason = classifyIp(a.address);
          if (reason) return callback(blockedUrlError(`address is ${reason}`), '');
        }
        const wanted =
          options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        const first = wanted[0];
        if (first === undefined)
          return callback(Object.assign(new Error('no address of the requested family'), { code: 'ENOTFOUND' }), '');
        if (options.all) return callback(null, wanted);
        return callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}
