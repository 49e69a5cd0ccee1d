/**
 * SIP header names: compact forms (RFC 3261 §7.3.3 and later RFCs) expand to their long form, and
 * lookups are case-insensitive. A message keeps its headers in wire order, each under its
 * canonical display name, so that serialising a parsed message changes only the names' spelling.
 */

const COMPACT: Readonly<Record<string, string>> = {
  v: 'Via',
  f: 'From',
  t: 'To',
  i: 'Call-ID',
  m: 'Contact',
  l: 'Content-Length',
  c: 'Content-Type',
  k: 'Supported',
  e: 'Content-Encoding',
  s: 'Subject',
  r: 'Refer-To',
  o: 'Event',
  u: 'Allow-Events',
  b: 'Referred-By',
  x: 'Session-Expires',
};

/** Long names whose usual spelling is not plain Title-Case of their parts. */
const SPECIAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rack: 'RAck',
  rseq: 'RSeq',
  'min-se': 'Min-SE',
};

/** Headers whose value may be a comma-separated list of elements (RFC 3261 §7.3.1). */
const LIST_HEADERS = new Set(['via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require']);

export interface SipHeader {
  readonly name: string;
  readonly value: string;
}

/** The canonical display name of a header name as written on the wire (compact or long, any case). */
export function canonicalName(raw: string): string {
  const lower = raw.toLowerCase();
  const compact = COMPACT[lower];
  if (compact !== undefined) return compact;
  const special = SPECIAL[lower];
  if (special !== undefined) return special;
  return lower.replace(/(^|-)([a-z])/g, (_m, dash: string, ch: string) => dash + ch.toUpperCase());
}

export function isListHeader(name: string): boolean {
  return LIST_HEADERS.has(canonicalName(name).toLowerCase());
}

/**
 * Splits a list header's value at top-level commas: commas inside quotes or angle brackets
 * (display names, URIs) do not split.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '<') depth++;
    else if (ch === '>' && depth > 0) depth--;
    else if (ch === ',' && depth === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  return out.filter((s) => s.length > 0);
}

/** The first header of that name (any spelling), or undefined. */
export function getHeader(headers: readonly SipHeader[], name: string): string | undefined {
  const want = canonicalName(name);
  for (const h of headers) if (h.name === want) return h.value;
  return undefined;
}

/** Every value of that name in order; list headers are split into their elements. */
export function getHeaders(headers: readonly SipHeader[], name: string): string[] {
  const want = canonicalName(name);
  const list = isListHeader(want);
  const out: string[] = [];
  for (const h of headers) {
    if (h.name !== want) continue;
    if (list) out.push(...splitList(h.value));
    else out.push(h.value);
  }
  return out;
}
