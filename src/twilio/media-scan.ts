/**
 * Byte-level fast path for the one message that arrives 50 times a second per call: a `media`
 * message of the caller's track on an established stream.
 *
 * Why: `toString` + `JSON.parse` (which interns every key) + the schema checks + base64 decoding
 * from a string cost about 4 % of the bridge's CPU at 250 calls (docs/capacity.md). This scanner
 * reads the raw bytes once, checks exactly what `mediaSchema` and the media route check, and
 * decodes the payload straight into a reused buffer.
 *
 * It only ever accepts. Anything it is not certain about — an unknown or repeated key, an escape,
 * a non-string value, another event, another stream, another track, any invalid field — returns
 * undefined, and the message takes the full parser, which accepts it or names the reason. So for
 * every message it accepts, the full path gives the same bytes and timestamp
 * (test/unit/twilio/media-scan.test.ts checks this over thousands of mutated messages).
 */

import { BASE64_VALUE } from './messages.js';

/** base64 value per byte, 255 outside the alphabet (a module-local name for the hot loop) */
const B64 = BASE64_VALUE;

const QUOTE = 0x22;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const EQ = 0x3d;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

// The known keys; each has one bit in a "seen" mask, and its value's span a slot of the same index.
const TOP_KEYS = ['event', 'sequenceNumber', 'streamSid', 'media'].map(ascii);
const MEDIA_KEYS = ['track', 'chunk', 'timestamp', 'payload'].map(ascii); // slots 4–7
const K_MEDIA = 1 << 3;
const K_PAYLOAD = 1 << 7;
const ALL = 255;
/** the `media` event's name (the same bytes as its key) */
const MEDIA = TOP_KEYS[3]!;
const INBOUND = ascii('inbound');
/** the longest counter the schema accepts (and still an exact integer as a double) */
const MAX_COUNTER_DIGITS = 15;

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
  for (let k = 0; k < keys.length; k++) if (equalAt(buf, start, end, keys[k]!)) return 1 << (inner ? k + 4 : k);
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
    const d = buf[i]! - 48;
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
  private readonly starts = new Int32Array(8);
  private readonly ends = new Int32Array(8);
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
    while (i < buf.length && isWs(buf[i]!)) i++;
    if (i !== buf.length) return undefined;
    const { starts, ends } = this;
    if (!equalAt(buf, starts[0]!, ends[0]!, MEDIA)) return undefined;
    if (counterAt(buf, starts[1]!, ends[1]!) < 0) return undefined;
    if (!equalAt(buf, starts[2]!, ends[2]!, this.sid)) return undefined;
    if (!equalAt(buf, starts[4]!, ends[4]!, INBOUND)) return undefined;
    if (counterAt(buf, starts[5]!, ends[5]!) < 0) return undefined;
    const ts = counterAt(buf, starts[6]!, ends[6]!);
    if (ts < 0) return undefined;
    const n = this.decodeBase64(buf, starts[7]!, ends[7]!);
    if (n <= 0) return undefined;
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
    while (i < n && isWs(buf[i]!)) i++;
    if (buf[i] !== OPEN) return -1;
    i++;
    let seen = 0;
    for (;;) {
      while (i < n && isWs(buf[i]!)) i++;
      if (buf[i] !== QUOTE) return -1; // also an empty object: never a valid media message
      const keyStart = ++i;
      while (i < n && buf[i] !== QUOTE) i++;
      if (i >= n) return -1;
      const bit = keyBit(buf, keyStart, i, inner);
      if (bit === 0 || (seen & bit) !== 0) return -1; // unknown or repeated key
      seen |= bit;
      i++;
      while (i < n && isWs(buf[i]!)) i++;
      if (buf[i] !== COLON) return -1;
      i++;
      if (bit === K_MEDIA) {
        this.pos = i;
        const media = this.object(buf, true);
        if (media < 0) return -1;
        seen |= media;
        i = this.pos;
      } else {
        while (i < n && isWs(buf[i]!)) i++;
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
      while (i < n && isWs(buf[i]!)) i++;
      if (buf[i] === COMMA) {
        i++;
        continue;
      }
      if (buf[i] !== CLOSE) return -1;
      this.pos = i + 1;
      return seen;
    }
  }

  /**
   * Standard base64 exactly as isBase64 accepts it (padded or not; padding only at the end and
   * only in a length that is a multiple of 4), decoded as Buffer.from(…, 'base64') decodes it.
   * Returns the byte count, or -1 when it is not valid.
   */
  private decodeBase64(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len % 4 === 1) return -1;
    let dataEnd = end;
    if (dataEnd > start && buf[dataEnd - 1] === EQ) {
      dataEnd--;
      if (dataEnd > start && buf[dataEnd - 1] === EQ) dataEnd--;
    }
    if (dataEnd !== end && len % 4 !== 0) return -1;
    const chars = dataEnd - start;
    const bytes = Math.floor((chars * 3) / 4);
    if (this.out.length < bytes) {
      this.out = new Uint8Array(bytes);
      this.result.bytes = this.out.subarray(0, 0); // views of the old buffer are stale
    }
    const out = this.out;
    let o = 0;
    let i = start;
    const whole = start + chars - (chars % 4);
    while (i < whole) {
      const a = B64[buf[i]!]!, b = B64[buf[i + 1]!]!, c = B64[buf[i + 2]!]!, d = B64[buf[i + 3]!]!;
      if ((a | b | c | d) > 63) return -1;
      out[o++] = (a << 2) | (b >> 4);
      out[o++] = ((b & 15) << 4) | (c >> 2);
      out[o++] = ((c & 3) << 6) | d;
      i += 4;
    }
    const rest = dataEnd - i;
    if (rest >= 2) {
      const a = B64[buf[i]!]!, b = B64[buf[i + 1]!]!;
      if ((a | b) > 63) return -1;
      out[o++] = (a << 2) | (b >> 4);
      if (rest === 3) {
        const c = B64[buf[i + 2]!]!;
        if (c > 63) return -1;
        out[o++] = ((b & 15) << 4) | (c >> 2);
      }
    }
    return o;
  }
}
