/**
 * Byte-level fast path for the one message that arrives 50 times a second per call: a `media`
 * message of the caller's track on an established stream.
 *
 * Why: `toString` + `JSON.parse` (which interns every key) + the schema checks + base64 decoding
 * from a string is a measurable share of the bridge's CPU at full load (docs/capacity.md). This scanner
 * reads the raw bytes once, checks exactly what `mediaSchema` and the media route check, and
 * decodes the payload straight into a reused buffer.
 *
 * Its key table and the check of each value come from wire.ts's field list, as the zod schema's do.
 * It only ever accepts. Anything it is not certain about — an unknown or repeated key, an escape,
 * a non-string value, another event, another stream, another track, any invalid field — returns
 * undefined, and the message takes the full parser, which accepts it or names the reason. So for
 * every message it accepts, the full path gives the same bytes and timestamp
 * (test/unit/twilio/wire-differential.test.ts checks this over thousands of mutated messages).
 */

import {
  INBOUND_TRACK,
  MAX_COUNTER_DIGITS,
  MEDIA_BODY_FIELDS,
  MEDIA_EVENT,
  MEDIA_FIELDS,
  base64MaxBytes,
  decodeBase64Into,
  type FieldKind,
} from './wire.js';

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

// The known keys: slot k is the k-th key of the top-level list, then of the body list. Each slot
// has one bit in a "seen" mask and the span of its value in starts/ends.
const TOP_NAMES = Object.keys(MEDIA_FIELDS);
const BODY_NAMES = Object.keys(MEDIA_BODY_FIELDS);
const TOP_KEYS = TOP_NAMES.map(ascii);
const MEDIA_KEYS = BODY_NAMES.map(ascii);
const BODY_BASE = TOP_KEYS.length;
const SLOTS = BODY_BASE + MEDIA_KEYS.length;
if (SLOTS > 30) throw new Error('media-scan: too many fields for a 31-bit seen mask');
const ALL = (1 << SLOTS) - 1;

const K_EVENT = 0;
const K_COUNTER = 1;
const K_SID = 2;
const K_TRACK = 3;
const K_BASE64 = 4;
const K_BODY = 5;
const KIND_CODE: Record<FieldKind, number> = {
  event: K_EVENT,
  counter: K_COUNTER,
  streamSid: K_SID,
  track: K_TRACK,
  base64: K_BASE64,
  body: K_BODY,
};
/** the kind of check of each slot */
const SLOT_KIND = Uint8Array.from(
  [...Object.values(MEDIA_FIELDS), ...Object.values(MEDIA_BODY_FIELDS)].map((k: FieldKind) => KIND_CODE[k]),
);
const PAYLOAD_SLOT = SLOT_KIND.indexOf(K_BASE64);
const bitOfKind = (kind: number) => 1 << SLOT_KIND.indexOf(kind);
/** the `media` key, whose value is the nested object */
const K_MEDIA = bitOfKind(K_BODY);
/** the payload: the long value, found with memchr */
const K_PAYLOAD = 1 << PAYLOAD_SLOT;
/** the slot whose counter is the media timestamp */
const TIMESTAMP_SLOT = BODY_BASE + BODY_NAMES.indexOf('timestamp' satisfies keyof typeof MEDIA_BODY_FIELDS);
const MEDIA = ascii(MEDIA_EVENT);
const INBOUND = ascii(INBOUND_TRACK);

export interface ScannedMedia {
  /** μ-law bytes; a view into the scanner's buffer, valid until the next scan */
  bytes: Uint8Array;
  timestampMs: number;
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The bit of a known key (of the top-level object, or of `media` when `inner`), else 0. */
function keyBit(buf: Uint8Array, start: number, end: number, inner: boolean): number {
  const keys = inner ? MEDIA_KEYS : TOP_KEYS;
  for (let k = 0; k < keys.length; k++)
    if (equalAt(buf, start, end, keys[k] as Uint8Array)) return 1 << (inner ? k + BODY_BASE : k);
  return 0;
}

function equalAt(buf: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (buf[start + i] !== word[i]) return false;
  return true;
}

/** 1–15 decimal digits, as a number; -1 otherwise */
function counterAt(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > MAX_COUNTER_DIGITS) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

export class MediaScanner {
  private readonly sid: Uint8Array;
  private out = new Uint8Array(160);
  private readonly result: ScannedMedia = { bytes: this.out, timestampMs: 0 };
  // Value spans of the message being scanned (start inclusive, end exclusive, quotes excluded).
  private readonly starts = new Int32Array(SLOTS);
  private readonly ends = new Int32Array(SLOTS);
  private pos = 0;

  /** `streamSid` is the stream's, already checked by the `start` schema (ASCII only). */
  constructor(streamSid: string) {
    this.sid = ascii(streamSid);
  }

  /** The caller audio of a media message of this stream, or undefined: use the full parser. */
  scan(buf: Buffer): ScannedMedia | undefined {
    this.pos = 0;
    const seen = this.object(buf, false);
    if (seen !== ALL) return undefined;
    let i = this.pos;
    while (i < buf.length && isWs(buf[i] as number)) i++;
    if (i !== buf.length) return undefined;
    const { starts, ends } = this;
    let ts = -1;
    // Every field but the payload (base64 is checked while decoding, the costly step, last).
    for (let s = 0; s < SLOTS; s++) {
      const a = starts[s] as number;
      const b = ends[s] as number;
      switch (SLOT_KIND[s]) {
        case K_EVENT:
          if (!equalAt(buf, a, b, MEDIA)) return undefined;
          break;
        case K_COUNTER: {
          const v = counterAt(buf, a, b);
          if (v < 0) return undefined;
          if (s === TIMESTAMP_SLOT) ts = v;
          break;
        }
        case K_SID:
          if (!equalAt(buf, a, b, this.sid)) return undefined;
          break;
        case K_TRACK:
          if (!equalAt(buf, a, b, INBOUND)) return undefined;
          break;
      }
    }
    const n = this.decodeBase64(buf, starts[PAYLOAD_SLOT] as number, ends[PAYLOAD_SLOT] as number);
    if (ts < 0 || n <= 0) return undefined;
    // the view is kept while the size repeats (160 bytes a message): no typed array per message
    if (this.result.bytes.length !== n) this.result.bytes = this.out.subarray(0, n);
    this.result.timestampMs = ts;
    return this.result;
  }

  /**
   * Reads one object from this.pos whose keys are all top-level (`inner` false) or all `media`
   * keys, each at most once; string values are recorded by key bit, the `media` key recurses.
   * Returns the bits seen, or -1 for anything else. Leaves this.pos after the closing brace.
   *
   * String contents are not checked here: every value has an exact check in scan() (a literal, a
   * digit string, the base64 alphabet) that an escape or a control character can never pass.
   */
  private object(buf: Buffer, inner: boolean): number {
    const n = buf.length;
    let i = this.pos;
    while (i < n && isWs(buf[i] as number)) i++;
    if (buf[i] !== OPEN) return -1;
    i++;
    let seen = 0;
    for (;;) {
      while (i < n && isWs(buf[i] as number)) i++;
      if (buf[i] !== QUOTE) return -1; // also an empty object: never a valid media message
      const keyStart = ++i;
      while (i < n && buf[i] !== QUOTE) i++;
      if (i >= n) return -1;
      const bit = keyBit(buf, keyStart, i, inner);
      if (bit === 0 || (seen & bit) !== 0) return -1; // unknown or repeated key
      seen |= bit;
      i++;
      while (i < n && isWs(buf[i] as number)) i++;
      if (buf[i] !== COLON) return -1;
      i++;
      if (bit === K_MEDIA) {
        this.pos = i;
        const media = this.object(buf, true);
        if (media < 0) return -1;
        seen |= media;
        i = this.pos;
      } else {
        while (i < n && isWs(buf[i] as number)) i++;
        if (buf[i] !== QUOTE) return -1; // the schema wants strings only
        const start = ++i;
        // The payload is long: memchr. An escaped quote ends the span early and fails its check.
        if (bit === K_PAYLOAD) i = buf.indexOf(QUOTE, i);
        else while (i < n && buf[i] !== QUOTE) i++;
        if (i < 0 || i >= n) return -1;
        const slot = 31 - Math.clz32(bit);
        this.starts[slot] = start;
        this.ends[slot] = i;
        i++;
      }
      while (i < n && isWs(buf[i] as number)) i++;
      if (buf[i] === COMMA) {
        i++;
        continue;
      }
      if (buf[i] !== CLOSE) return -1;
      this.pos = i + 1;
      return seen;
    }
  }

  /** The payload's bytes into this.out (grown when short); the byte count, or -1 when not base64. */
  private decodeBase64(buf: Uint8Array, start: number, end: number): number {
    const bytes = base64MaxBytes(end - start);
    if (this.out.length < bytes) {
      this.out = new Uint8Array(bytes);
      this.result.bytes = this.out.subarray(0, 0); // views of the old buffer are stale
    }
    return decodeBase64Into(buf, start, end, this.out);
  }
}
