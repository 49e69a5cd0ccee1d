import { splitList } from './headers.js';
import { parseParams } from './uri.js';

/**
 * Via headers, and the two RFC 3261 §18.2 rules that use them: a server stamps `received` (and
 * `rport`, RFC 3581) into the top Via of a request, and sends the response where they say.
 */

export type SipTransportName = 'udp' | 'tcp';

export interface Via {
  readonly transport: string;
  readonly host: string;
  readonly port?: number;
  readonly params: Readonly<Record<string, string | null>>;
}

export interface Destination {
  readonly transport: SipTransportName;
  readonly address: string;
  readonly port: number;
}

export function parseVia(value: string): Via | undefined {
  const m =
    /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z]+)\s+(\[[0-9a-fA-F:.]+\]|[^\s:;[\]]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/.exec(
      value.trim(),
    );
  if (!m) return undefined;
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined && (port === 0 || port > 65535)) return undefined;
  return {
    transport: m[1]!.toUpperCase(),
    host: m[2]!,
    ...(port !== undefined ? { port } : {}),
    params: m[4] ? parseParams(m[4]) : {},
  };
}

export function formatVia(v: Via): string {
  const params = Object.entries(v.params)
    .map(([k, val]) => (val === null ? `;${k}` : `;${k}=${val}`))
    .join('');
  return `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${params}`;
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * The top Via as the server must keep it (§18.2.1, RFC 3581 §4): `received` when the sent-by host
 * is not the packet's source address or when `rport` was asked for, and `rport` filled with the
 * source port when it was asked for.
 */
export function stampVia(v: Via, source: { address: string; port: number }): Via {
  const params: Record<string, string | null> = { ...v.params };
  const wantsRport = 'rport' in params;
  if (wantsRport || bare(v.host).toLowerCase() !== source.address.toLowerCase()) params.received = source.address;
  if (wantsRport) params.rport = String(source.port);
  return { ...v, params };
}

/**
 * Where a response goes when it cannot ride the request's own connection (§18.2.2): the
 * `received` address (else the sent-by host) and the `rport` port (else the sent-by port, else
 * 5060). `maddr` (multicast) is not supported: the response goes to the source.
 */
export function responseDestination(v: Via): Destination | undefined {
  const transport: SipTransportName | undefined =
    v.transport === 'UDP' ? 'udp' : v.transport === 'TCP' ? 'tcp' : undefined;
  if (!transport) return undefined;
  const address = v.params.received ?? bare(v.host);
  const rport = v.params.rport;
  const port = rport ? Number(rport) : (v.port ?? 5060);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { transport, address, port };
}

/** The top Via of a message's headers (the first element of the first Via header). */
export function topVia(headers: readonly { name: string; value: string }[]): Via | undefined {
  const h = headers.find((x) => x.name === 'Via');
  if (!h) return undefined;
  return parseVia(splitList(h.value)[0] ?? '');
}

/** Headers with the top Via replaced by `v` (other elements of a combined Via line are kept). */
export function replaceTopVia<H extends { name: string; value: string }>(
  headers: readonly H[],
  v: Via,
): { name: string; value: string }[] {
  let done = false;
  return headers.map((h) => {
    if (done || h.name !== 'Via') return h;
    done = true;
    const rest = splitList(h.value).slice(1);
    return { name: 'Via', value: [formatVia(v), ...rest].join(', ') };
  });
}
