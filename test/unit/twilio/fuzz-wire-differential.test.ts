import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MediaScanner } from '../../../src/twilio/media-scan.js';
import { mediaSchema, parseMediaFast, parseTwilioMessage } from '../../../src/twilio/messages.js';
import { MEDIA_BODY_FIELDS, MEDIA_FIELDS } from '../../../src/twilio/wire.js';
import { PAYLOAD, SID, odd } from './media-variants.js';

// One mutated corpus of media frames, fed to every path that validates a media message: the zod
// schema (the reference), the hand-written parseMediaFast, parseTwilioMessage, and the byte
// scanner. They must give one verdict per frame and, when they accept, the same values.

type Json = string | number | boolean | null | Json[] | Obj;
interface Obj {
  entries: [string, Json][];
}

/** A deterministic generator (an LCG), so a failure names a frame that can be replayed. */
function rng(seed: number) {
  let s = seed;
  const next = (n: number) => (s = (s * 1103515245 + 12345) % 2147483648) % n;
  return {
    int: next,
    pick: <T>(xs: readonly T[]): T => xs[next(xs.length)] as T,
    chance: (p: number) => next(1000) < p * 1000,
  };
}
type Rng = ReturnType<typeof rng>;

const isObj = (v: Json): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function validFrame(r: Rng): Obj {
  const bytes = Buffer.from(Array.from({ length: r.pick([160, 160, 160, 1, 2, 3, 4, 80, 321]) }, () => r.int(256)));
  let payload = bytes.toString('base64');
  if (r.chance(0.2)) payload = payload.replace(/=+$/, ''); // unpadded is base64 too
  const seq = String(r.int(100000));
  return {
    entries: [
      ['event', 'media'],
      ['sequenceNumber', seq],
      [
        'media',
        {
          entries: [
            ['track', 'inbound'],
            ['chunk', String(r.int(5000))],
            ['timestamp', String(r.int(1e9))],
            ['payload', payload],
          ],
        },
      ],
      ['streamSid', SID],
    ],
  };
}

const EXTRA_VALUES: Json[] = [1, 'x', null, { entries: [['a', 1]] }, [1, 2]];
const WRONG: Json[] = [
  ...(odd.filter(
    (v) => typeof v !== 'symbol' && !(typeof v === 'object' && v !== null && !Array.isArray(v)),
  ) as Json[]),
  { entries: [] },
  'Media',
  'media ',
  'mark',
  'MZ0123456789abcdef0123456789abcdeF',
  `${SID}x`,
  'inbound\u0000',
  'ÿÿÿÿ',
  'QUJD\n',
  'QUJD====',
  'QUJ=D',
  '-_-_',
  `${PAYLOAD}=`,
  `=${PAYLOAD.slice(1)}`,
  '\u00e9t\u00e9',
  '\ud83d\ude00',
];

/** Every (object, index) pair of the frame: the top level and the body, if it is an object. */
function fieldSlots(m: Obj): [Obj, number][] {
  const out: [Obj, number][] = m.entries.map((_, i) => [m, i]);
  for (const [, v] of m.entries) if (isObj(v)) out.push(...v.entries.map((_, i): [Obj, number] => [v, i]));
  return out;
}

function mutate(m: Obj, r: Rng): void {
  const slots = fieldSlots(m);
  if (slots.length === 0) return;
  const [obj, i] = r.pick(slots);
  const entry = obj.entries[i];
  if (!entry) return;
  switch (r.int(7)) {
    case 0: // a field goes missing
      obj.entries.splice(i, 1);
      break;
    case 1: // a key comes twice (JSON.parse keeps the last)
      obj.entries.splice(r.int(obj.entries.length + 1), 0, [entry[0], r.chance(0.5) ? entry[1] : r.pick(WRONG)]);
      break;
    case 2: {
      // two fields swap values
      const [o2, j] = r.pick(slots);
      const other = o2.entries[j];
      if (other) [entry[1], other[1]] = [other[1], entry[1]];
      break;
    }
    case 3: // a wrong type, an odd alphabet, bad base64
      entry[1] = r.pick(WRONG);
      break;
    case 4: // an unknown field
      obj.entries.splice(r.int(obj.entries.length + 1), 0, [
        r.pick(['extra', 'Event', 'media2', 'track ']),
        r.pick(EXTRA_VALUES),
      ]);
      break;
    case 5: // key order
      obj.entries.reverse();
      break;
    default: // the same value written with a \u escape (see serialize)
      entry[1] =
        typeof entry[1] === 'string' && entry[1].length > 0 ? { entries: [['\u0000escape', entry[1]]] } : entry[1];
      break;
  }
}

/** JSON text, with random whitespace; an `\u0000escape` wrapper is its string with one \u escape. */
function serialize(v: Json, r: Rng): string {
  const ws = () => (r.chance(0.1) ? r.pick([' ', '\n', '\t', '\r\n ']) : '');
  if (isObj(v)) {
    const first = v.entries[0];
    if (first && first[0] === '\u0000escape' && typeof first[1] === 'string') {
      const s = first[1];
      const at = r.int(s.length);
      const esc = `\\u${s.charCodeAt(at).toString(16).padStart(4, '0')}`;
      return `"${JSON.stringify(s.slice(0, at)).slice(1, -1)}${esc}${JSON.stringify(s.slice(at + 1)).slice(1, -1)}"`;
    }
    return `{${v.entries.map(([k, x]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${serialize(x, r)}${ws()}`).join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map((x) => serialize(x, r)).join(',')}]`;
  return JSON.stringify(v);
}

const BYTES = [
  0x22, 0x5c, 0x3a, 0x2c, 0x7b, 0x7d, 0x3d, 0x20, 0x0a, 0x00, 0x41, 0x2f, 0x2b, 0x30, 0x39, 0xc3, 0x7f, 0x5b,
];

function frame(r: Rng): Buffer {
  const m = validFrame(r);
  const mutations = r.pick([0, 0, 1, 1, 1, 2, 3]);
  for (let k = 0; k < mutations; k++) mutate(m, r);
  let b = Buffer.from(`${r.chance(0.05) ? ' ' : ''}${serialize(m, r)}`, 'utf8');
  if (r.chance(0.1)) b = b.subarray(0, r.int(b.length + 1)); // truncated
  if (r.chance(0.15)) {
    const bytes = [...b];
    for (let k = 0; k <= r.int(2); k++) {
      const at = r.int(bytes.length + 1);
      const op = r.int(3);
      if (op === 0 && at < bytes.length) bytes[at] = r.pick(BYTES);
      else if (op === 1) bytes.splice(at, 1);
      else bytes.splice(at, 0, r.pick(BYTES));
    }
    b = Buffer.from(bytes);
  }
  return b;
}

/** Whether the frame is in the form the scanner promises to take: ASCII, no escapes, only the known keys, each once. */
function plainForm(text: string, raw: Record<string, unknown>): boolean {
  if (/[\\\u0080-\uffff]/.test(text)) return false;
  const body = raw.media as Record<string, unknown>;
  const known = Object.keys(MEDIA_FIELDS).length + Object.keys(MEDIA_BODY_FIELDS).length;
  if (Object.keys(raw).length + Object.keys(body).length !== known) return false;
  return (text.match(/"[^"]*"\s*:/g) ?? []).length === known; // no key written twice
}

/** expect(a).toEqual(b) with a cheap strict check first: 80,000 matcher calls cost seconds on a loaded machine. */
function same(a: unknown, b: unknown): void {
  if (!isDeepStrictEqual(a, b)) expect(a).toEqual(b);
}

describe('one verdict per media frame across every validating path', () => {
  it('the schema, parseMediaFast, parseTwilioMessage and the byte scanner agree on 20,000 mutated frames', () => {
    const r = rng(19);
    const scanner = new MediaScanner(SID);
    const tally = { frames: 0, schemaAccepted: 0, scannerAccepted: 0, deferredPlain: 0 };
    for (let k = 0; k < 20_000; k++) {
      const buf = frame(r);
      const text = buf.toString('utf8');
      tally.frames++;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        raw = undefined;
      }
      const ref = raw === undefined ? undefined : mediaSchema.safeParse(raw);
      const schemaOk = ref?.success === true;
      if (schemaOk) tally.schemaAccepted++;

      // parseMediaFast runs only for event "media" objects; elsewhere its verdict is "not media".
      const isMediaObject =
        typeof raw === 'object' &&
        raw !== null &&
        !Array.isArray(raw) &&
        (raw as { event?: unknown }).event === 'media';
      const fast = isMediaObject ? parseMediaFast(raw as Record<string, unknown>) : undefined;
      same({ text, fast: fast !== undefined }, { text, fast: schemaOk });
      if (fast && ref?.success) same(fast, ref.data);

      const full = parseTwilioMessage(text);
      const fullMedia = full.ok && full.msg.event === 'media' ? full.msg : undefined;
      same({ text, full: fullMedia !== undefined }, { text, full: schemaOk });
      if (fullMedia && ref?.success) same(fullMedia, ref.data);

      // The scanner accepts only for its own stream and the caller's track, and otherwise defers.
      const scanned = scanner.scan(buf);
      const bridged =
        ref?.success && ref.data.streamSid === SID && ref.data.media.track === 'inbound' ? ref.data : undefined;
      const bytes = bridged ? Buffer.from(bridged.media.payload, 'base64') : undefined;
      if (scanned) {
        tally.scannerAccepted++;
        same({ text, bridged: bytes !== undefined && bytes.length > 0 }, { text, bridged: true });
        same(
          { text, bytes: Buffer.from(scanned.bytes).toString('hex'), ts: scanned.timestampMs },
          {
            text,
            bytes: bytes?.toString('hex'),
            ts: Number(bridged?.media.timestamp),
          },
        );
      } else if (bridged && bytes && bytes.length > 0) {
        // deferring is allowed only for forms the scanner leaves to the parser on purpose
        same({ text, plain: plainForm(text, raw as Record<string, unknown>) }, { text, plain: false });
        tally.deferredPlain++;
      }
    }
    // The corpus reaches both verdicts on every path.
    expect(tally.schemaAccepted).toBeGreaterThan(2000);
    expect(tally.frames - tally.schemaAccepted).toBeGreaterThan(5000);
    expect(tally.scannerAccepted).toBeGreaterThan(2000);
    expect(tally.deferredPlain).toBeGreaterThan(100);
  });
});
