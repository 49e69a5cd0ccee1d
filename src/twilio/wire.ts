/**
 * The Twilio wire vocabulary, written once: the SID alphabets, base64, and the fields of a `media`
 * message. The byte scanner (media-scan.ts), the hand-written fast parser and the zod schemas
 * (messages.ts) all take their rules from here, so they cannot drift apart
 * (test/unit/twilio/wire-differential.test.ts feeds one mutated corpus to all of them).
 */

// ---------------------------------------------------------------------------------------------
// SIDs

/** A CallSid as Twilio's webhooks send it: `CA` and 32 hex digits. */
export const CALL_SID_RE = /^CA[0-9a-fA-F]{32}$/;
/** An AccountSid: `AC` and 32 hex digits. */
export const ACCOUNT_SID_RE = /^AC[0-9a-fA-F]{32}$/;
/** A CallSid the REST client puts into a URL path: `CA` and letters or digits only (no `/`, `.`, `%`). */
export const REST_CALL_SID_RE = /^CA[0-9A-Za-z]{1,64}$/;

/** The longest streamSid accepted. */
export const STREAM_SID_MAX = 64;

/** One character of the streamSid alphabet: A-Z a-z 0-9 _ - (echoed unescaped in outbound JSON). */
export function isStreamSidCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 45;
}

/** 1 to STREAM_SID_MAX characters of the streamSid alphabet. */
export function isStreamSid(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > STREAM_SID_MAX) return false;
  for (let i = 0; i < v.length; i++) if (!isStreamSidCode(v.charCodeAt(i))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Counters (`sequenceNumber`, `chunk`, `timestamp`): decimal digit strings

/** The longest counter accepted: 15 digits are still an exact integer as a double. */
export const MAX_COUNTER_DIGITS = 15;

/** 1 to MAX_COUNTER_DIGITS decimal digits. */
export function isCounter(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_COUNTER_DIGITS) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Base64 (standard alphabet). Hand-coded rather than Buffer's because Buffer.from(…, 'base64')
// never rejects (it skips what it does not know), and because the media hot paths decode from and
// encode into bytes in place, with no intermediate string.

/** The standard base64 alphabet, as bytes: B64_CHARS[v] is the character for the value v. */
export const B64_CHARS = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/** The value of each byte in the base64 alphabet; 255 for any other byte ('=' included). */
export const BASE64_VALUE = new Uint8Array(256).fill(255);
B64_CHARS.forEach((c, v) => (BASE64_VALUE[c] = v));

const EQ = 0x3d;

/**
 * Standard base64, padded or not (at most two `=`, only at the end, and only in a length that is
 * a multiple of 4). A table scan without a regex: it runs on every media payload.
 */
export function isBase64(s: string): boolean {
  const n = s.length;
  if (n % 4 === 1) return false;
  let end = n;
  if (end > 0 && s.charCodeAt(end - 1) === EQ) {
    end--;
    if (end > 0 && s.charCodeAt(end - 1) === EQ) end--;
  }
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || (BASE64_VALUE[c] as number) > 63) return false; // '=' is not in the alphabet: data after padding
  }
  return end === n || n % 4 === 0;
}

/** The most bytes the base64 in `chars` characters can decode to. */
export function base64MaxBytes(chars: number): number {
  return Math.floor((chars * 3) / 4);
}

/**
 * Decodes the base64 in buf[start, end) into `out` (at least base64MaxBytes(end - start) long),
 * accepting exactly what isBase64 accepts and producing what Buffer.from(…, 'base64') produces.
 * Returns the byte count, or -1 when it is not valid base64.
 */
export function decodeBase64Into(buf: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const len = end - start;
  if (len % 4 === 1) return -1;
  let dataEnd = end;
  if (dataEnd > start && buf[dataEnd - 1] === EQ) {
    dataEnd--;
    if (dataEnd > start && buf[dataEnd - 1] === EQ) dataEnd--;
  }
  if (dataEnd !== end && len % 4 !== 0) return -1;
  const B = BASE64_VALUE;
  const chars = dataEnd - start;
  let o = 0;
  let i = start;
  const whole = start + chars - (chars % 4);
  // Every read is in range: i + 3 < whole <= end <= buf.length, and a byte indexes the 256-entry table.
  while (i < whole) {
    const a = B[buf[i] as number] as number;
    const b = B[buf[i + 1] as number] as number;
    const c = B[buf[i + 2] as number] as number;
    const d = B[buf[i + 3] as number] as number;
    if ((a | b | c | d) > 63) return -1;
    out[o++] = (a << 2) | (b >> 4);
    out[o++] = ((b & 15) << 4) | (c >> 2);
    out[o++] = ((c & 3) << 6) | d;
    i += 4;
  }
  const rest = dataEnd - i;
  if (rest >= 2) {
    const a = B[buf[i] as number] as number;
    const b = B[buf[i + 1] as number] as number;
    if ((a | b) > 63) return -1;
    out[o++] = (a << 2) | (b >> 4);
    if (rest === 3) {
      const c = B[buf[i + 2] as number] as number;
      if (c > 63) return -1;
      out[o++] = ((b & 15) << 4) | (c >> 2);
    }
  }
  return o;
}

/** The base64 length (padded) of `n` bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Writes the padded base64 of `src` into `out` from `offset` (room for base64Length(src.length)
 * bytes), exactly as Buffer's toString('base64'). Returns the offset after it.
 */
export function encodeBase64Into(src: Uint8Array, out: Uint8Array, offset: number): number {
  const C = B64_CHARS;
  const n = src.length;
  let o = offset;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((src[i] as number) << 16) | ((src[i + 1] as number) << 8) | (src[i + 2] as number);
    out[o++] = C[v >> 18] as number;
    out[o++] = C[(v >> 12) & 63] as number;
    out[o++] = C[(v >> 6) & 63] as number;
    out[o++] = C[v & 63] as number;
  }
  if (i < n) {
    const v = ((src[i] as number) << 16) | (i + 1 < n ? (src[i + 1] as number) << 8 : 0);
    out[o++] = C[v >> 18] as number;
    out[o++] = C[(v >> 12) & 63] as number;
    out[o++] = i + 1 < n ? (C[(v >> 6) & 63] as number) : EQ;
    out[o++] = EQ;
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// The `media` message: its fields, in Twilio's order, each with the kind of check it gets.

/** How a field is checked: every path (scanner, fast parser, schema) maps a kind to one check. */
export type FieldKind =
  /** the literal event name, MEDIA_EVENT */
  | 'event'
  /** isCounter */
  | 'counter'
  /** isStreamSid (the scanner compares with its stream's sid, already checked at `start`) */
  | 'streamSid'
  /** any string (the media route, and so the scanner, also require 'inbound') */
  | 'track'
  /** isBase64 */
  | 'base64'
  /** the nested object of MEDIA_BODY_FIELDS */
  | 'body';

export const MEDIA_EVENT = 'media';

/** The top level of a media message; no other key is known (others are tolerated, and dropped). */
export const MEDIA_FIELDS = {
  event: 'event',
  sequenceNumber: 'counter',
  streamSid: 'streamSid',
  media: 'body',
} as const satisfies Record<string, FieldKind>;

/** The `media` object of a media message. */
export const MEDIA_BODY_FIELDS = {
  track: 'track',
  chunk: 'counter',
  timestamp: 'counter',
  payload: 'base64',
} as const satisfies Record<string, Exclude<FieldKind, 'event' | 'body'>>;

/** The track the bridge takes: the caller's. */
export const INBOUND_TRACK = 'inbound';
