import { z } from 'zod';
import {
  MEDIA_BODY_FIELDS,
  MEDIA_EVENT,
  MEDIA_FIELDS,
  base64Length,
  encodeBase64Into,
  isBase64,
  isCounter,
  isStreamSid,
  type FieldKind,
} from './wire.js';

export { BASE64_VALUE, isBase64 } from './wire.js';

/**
 * Twilio Media Streams wire messages (see specs/twilio.md §1).
 *
 * Inbound (Twilio → bridge) messages are parsed once here into a typed union keyed on `event`.
 * Counters (`sequenceNumber`, `chunk`, `timestamp`) stay the strings Twilio sends, but only
 * decimal digit strings are accepted: a JSON number there means the sender is not Twilio.
 * Unknown fields are tolerated (Twilio adds fields over time); missing or mistyped required
 * fields are rejected with a short reason that is safe to log and count.
 */

/** Default upper bound for one inbound message; real ones are ~300 bytes. */
export const DEFAULT_MAX_MESSAGE_CHARS = 64 * 1024;

// The checks are wire.ts's predicates, so the schemas and the hand-written paths share one rule each.
const counter = z.string().refine(isCounter, 'expected a numeric string');
const sid = z.string().min(1).max(64);
/** Echoed unescaped in every outbound message (buildMedia/buildMark/buildClear): safe alphabet only. */
const streamSid = z.string().refine(isStreamSid, 'expected a stream sid');
const base64 = z.string().refine(isBase64, 'invalid base64');

/** The schema of each field kind but `body` (which is the object of its own field list). */
const KIND_SCHEMA = {
  event: z.literal(MEDIA_EVENT),
  counter,
  streamSid,
  track: z.string(),
  base64,
} as const;
type FlatKind = Exclude<FieldKind, 'body'>;

/** The zod shape of a field list whose kinds are all flat. */
function shapeOf<F extends Record<string, FlatKind>>(fields: F): { [K in keyof F]: (typeof KIND_SCHEMA)[F[K]] } {
  return Object.fromEntries(Object.entries(fields).map(([k, kind]) => [k, KIND_SCHEMA[kind]])) as {
    [K in keyof F]: (typeof KIND_SCHEMA)[F[K]];
  };
}

export const connectedSchema = z.object({
  event: z.literal('connected'),
  protocol: z.string(),
  version: z.string(),
});

export const startSchema = z.object({
  event: z.literal('start'),
  sequenceNumber: counter,
  streamSid,
  start: z.object({
    accountSid: sid,
    streamSid,
    callSid: sid,
    tracks: z.array(z.string()).max(4),
    mediaFormat: z.object({
      encoding: z.string(),
      sampleRate: z.number(),
      channels: z.number(),
    }),
    customParameters: z.record(z.string(), z.string()).optional(),
  }),
});

const { media: _body, ...MEDIA_FLAT_FIELDS } = MEDIA_FIELDS;

/**
 * Derived from wire.ts's field list, as the byte scanner's key table is; parseMediaFast (below)
 * applies the same predicates by hand (a differential test holds all three to one verdict).
 */
export const mediaSchema = z.object({
  ...shapeOf(MEDIA_FLAT_FIELDS),
  media: z.object(shapeOf(MEDIA_BODY_FIELDS)),
});

export const dtmfSchema = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: counter,
  streamSid,
  dtmf: z.object({
    track: z.string(),
    digit: z.string().regex(/^[0-9*#A-Da-d]$/, 'expected one DTMF digit'),
  }),
});

/** Changing this schema? parseMarkFast (below) makes the same checks by hand: keep them in step. */
export const markSchema = z.object({
  event: z.literal('mark'),
  sequenceNumber: counter,
  streamSid,
  mark: z.object({ name: z.string().max(256) }),
});

export const stopSchema = z.object({
  event: z.literal('stop'),
  sequenceNumber: counter,
  streamSid,
  stop: z.object({ accountSid: sid, callSid: sid }),
});

export type TwilioConnected = z.infer<typeof connectedSchema>;
export type TwilioStart = z.infer<typeof startSchema>;
export type TwilioMedia = z.infer<typeof mediaSchema>;
export type TwilioDtmf = z.infer<typeof dtmfSchema>;
export type TwilioMark = z.infer<typeof markSchema>;
export type TwilioStop = z.infer<typeof stopSchema>;
export type TwilioInbound = TwilioConnected | TwilioStart | TwilioMedia | TwilioDtmf | TwilioMark | TwilioStop;
export type TwilioInboundEvent = TwilioInbound['event'];

export type ParseResult = { ok: true; msg: TwilioInbound } | { ok: false; reason: string };

const SCHEMAS = {
  connected: connectedSchema,
  start: startSchema,
  media: mediaSchema,
  dtmf: dtmfSchema,
  mark: markSchema,
  stop: stopSchema,
} as const;

/**
 * `media` arrives 50 times a second per call: the checks of mediaSchema, by hand (zod costs
 * several times JSON.parse here). It only ever accepts — anything it does not like goes on to
 * the schema, which produces the reason — and its output has the schema's shape (unknown fields
 * dropped). Exported for the differential test, which holds it to the schema's verdicts.
 */
export function parseMediaFast(raw: Record<string, unknown>): TwilioMedia | undefined {
  const m = raw.media;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const { track, chunk, timestamp, payload } = m as Record<string, unknown>;
  const { sequenceNumber, streamSid } = raw;
  if (!isCounter(sequenceNumber) || !isStreamSid(streamSid) || typeof track !== 'string') return undefined;
  if (!isCounter(chunk) || !isCounter(timestamp) || typeof payload !== 'string' || !isBase64(payload)) return undefined;
  return { event: 'media', sequenceNumber, streamSid, media: { track, chunk, timestamp, payload } };
}

/**
 * `mark` echoes come back every 500 ms per call during speech: markSchema's checks by hand, as for
 * media (zod is most of their cost). Anything it does not like goes on to the schema.
 */
function parseMarkFast(raw: Record<string, unknown>): TwilioMark | undefined {
  const m = raw.mark;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return undefined;
  const { name } = m as Record<string, unknown>;
  const { sequenceNumber, streamSid } = raw;
  if (!isCounter(sequenceNumber) || !isStreamSid(streamSid) || typeof name !== 'string' || name.length > 256)
    return undefined;
  return { event: 'mark', sequenceNumber, streamSid, mark: { name } };
}

/** Keeps hostile input out of reasons that end up in logs and metric labels. */
function clip(s: string, max = 40): string {
  const cleaned = s.replace(/[^\x20-\x7e]/g, '?');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

/**
 * Parses one text frame from Twilio. Never throws. `maxChars` bounds the work done on hostile
 * input before JSON.parse sees it.
 */
export function parseTwilioMessage(text: string, maxChars = DEFAULT_MAX_MESSAGE_CHARS): ParseResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not_text' };
  if (text.length > maxChars) return { ok: false, reason: 'oversize' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not_object' };
  const event = (raw as { event?: unknown }).event;
  if (typeof event !== 'string') return { ok: false, reason: 'missing_event' };
  const fast =
    event === 'media'
      ? parseMediaFast(raw as Record<string, unknown>)
      : event === 'mark'
        ? parseMarkFast(raw as Record<string, unknown>)
        : undefined;
  if (fast) return { ok: true, msg: fast };
  if (!Object.prototype.hasOwnProperty.call(SCHEMAS, event)) {
    return { ok: false, reason: `unknown_event:${clip(event)}` };
  }
  const schema = SCHEMAS[event as TwilioInboundEvent];
  const res = schema.safeParse(raw);
  if (res.success) return { ok: true, msg: res.data };
  const issue = res.error.issues[0];
  const where = issue ? issue.path.join('.') : '';
  return { ok: false, reason: `invalid_${event}:${clip(where, 60)}${issue ? ` ${clip(issue.message, 60)}` : ''}` };
}

/** Decodes a media payload to μ-law bytes; null for invalid base64 or an empty payload. */
export function decodeMediaPayload(b64: string): Buffer | null {
  if (typeof b64 !== 'string' || !isBase64(b64)) return null;
  return decodeCheckedPayload(b64);
}

/**
 * The payload of a message parseTwilioMessage accepted (its base64 was checked there, by
 * parseMediaFast or the schema): decoded without scanning it a second time. Null when empty.
 */
export function decodeCheckedPayload(b64: string): Buffer | null {
  if (b64.length === 0) return null;
  const buf = Buffer.from(b64, 'base64');
  return buf.length === 0 ? null : buf;
}

// ---------------------------------------------------------------------------------------------
// Outbound (bridge → Twilio): exactly three messages with exactly these fields (anything else is
// Twilio warning 31951 and is dropped).

/** streamSids are embedded without JSON escaping, so only a safe alphabet is accepted. */
function checkStreamSid(streamSid: string): void {
  if (!isStreamSid(streamSid)) throw new TypeError('invalid streamSid for an outbound Twilio message');
}

/**
 * `{"event":"media","streamSid":…,"media":{"payload":…}}`. The payload must be base64 (checked
 * with a char scan, no regex); base64 never needs JSON escaping, so the message is a plain
 * concatenation.
 */
export function buildMedia(streamSid: string, payloadB64: string): string {
  if (!isBase64(payloadB64)) throw new TypeError('media payload must be base64');
  return new MediaEncoder(streamSid).encode(payloadB64);
}

/**
 * Outbound media of one stream: the streamSid is checked and the message prefix built once, then
 * each message is one buffer. `encodeFrame` writes the base64 of the μ-law bytes straight into
 * it: no string is built, encoded and measured again by the socket for 50 messages a second
 * per call. buildMedia is the checked string form.
 */
export class MediaEncoder {
  private readonly prefix: string;
  private readonly prefixBytes: Buffer;

  constructor(streamSid: string) {
    checkStreamSid(streamSid);
    this.prefix = `{"event":"media","streamSid":"${streamSid}","media":{"payload":"`;
    this.prefixBytes = Buffer.from(this.prefix, 'latin1');
  }

  /** The message for a payload that is already base64. */
  encode(payloadB64: string): string {
    return this.prefix + payloadB64 + '"}}';
  }

  /** The message for μ-law bytes, as UTF-8 (ASCII) bytes: send it as a text frame. */
  encodeFrame(mulaw: Uint8Array): Buffer {
    const p = this.prefixBytes.length;
    const out = Buffer.allocUnsafe(p + base64Length(mulaw.length) + 3);
    this.prefixBytes.copy(out, 0);
    let o = encodeBase64Into(mulaw, out, p);
    out[o++] = 0x22; // "}}
    out[o++] = 0x7d;
    out[o++] = 0x7d;
    return out;
  }
}

/** `{"event":"mark","streamSid":…,"mark":{"name":…}}` */
export function buildMark(streamSid: string, name: string): string {
  checkStreamSid(streamSid);
  return `{"event":"mark","streamSid":"${streamSid}","mark":{"name":${JSON.stringify(String(name))}}}`;
}

/** `{"event":"clear","streamSid":…}` */
export function buildClear(streamSid: string): string {
  checkStreamSid(streamSid);
  return `{"event":"clear","streamSid":"${streamSid}"}`;
}
