/**
 * SIP URIs and name-addr values (From, To, Contact, Refer-To), as much as the bridge reads: the
 * user (a dialled number), the host and port, and the parameters (tag, transport).
 */

export interface SipUri {
  readonly scheme: 'sip' | 'sips' | 'tel';
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
  readonly params: Readonly<Record<string, string | null>>;
}

export interface NameAddr {
  readonly display?: string;
  readonly uri: string;
  readonly params: Readonly<Record<string, string | null>>;
}

export function parseParams(s: string): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const part of s.split(';')) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq < 0) out[p.toLowerCase()] = null;
    else out[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  return out;
}

function percentDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** sip:user@host:port;params?headers, sips:…, tel:+1555…; undefined when it is none of those. */
export function parseSipUri(raw: string): SipUri | undefined {
  const m = /^(sips?|tel):(.*)$/i.exec(raw.trim());
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase() as SipUri['scheme'];
  let rest = m[2]!;
  const q = rest.indexOf('?');
  if (q >= 0) rest = rest.slice(0, q);
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    const number = semi < 0 ? rest : rest.slice(0, semi);
    if (!number) return undefined;
    return { scheme, user: percentDecode(number), host: '', params: semi < 0 ? {} : parseParams(rest.slice(semi)) };
  }
  const at = rest.lastIndexOf('@');
  let user: string | undefined;
  if (at >= 0) {
    user = rest.slice(0, at);
    const colon = user.indexOf(':'); // user:password
    if (colon >= 0) user = user.slice(0, colon);
    user = percentDecode(user);
    rest = rest.slice(at + 1);
  }
  const semi = rest.indexOf(';');
  const hostport = semi < 0 ? rest : rest.slice(0, semi);
  const params = semi < 0 ? {} : parseParams(rest.slice(semi));
  const hp = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostport);
  if (!hp) return undefined;
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && port > 65535) return undefined;
  return { scheme, ...(user ? { user } : {}), host: hp[1]!.toLowerCase(), ...(port ? { port } : {}), params };
}

/** `"Display" <uri>;params`, `<uri>;params` or a bare `uri;params` (then the params are the header's). */
export function parseNameAddr(raw: string): NameAddr | undefined {
  const s = raw.trim();
  const lt = s.indexOf('<');
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) return undefined;
    let display = s.slice(0, lt).trim();
    if (display.startsWith('"') && display.endsWith('"') && display.length >= 2) display = display.slice(1, -1);
    return {
      ...(display ? { display } : {}),
      uri: s.slice(lt + 1, gt).trim(),
      params: parseParams(s.slice(gt + 1)),
    };
  }
  const semi = s.indexOf(';');
  const uri = semi < 0 ? s : s.slice(0, semi);
  if (!uri) return undefined;
  return { uri, params: semi < 0 ? {} : parseParams(s.slice(semi)) };
}
