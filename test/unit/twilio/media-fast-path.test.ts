import { describe, expect, it } from 'vitest';
import { isBase64, mediaSchema, parseTwilioMessage } from '../../../src/twilio/messages.js';

// `media` is parsed by a hand-written fast path; the zod schema stays the reference. These tests
// fail as soon as the two disagree about any message (one accepts what the other refuses, or
// they return different objects).

const SID = 'MZ0123456789abcdef0123456789abcdef';
const PAYLOAD = Buffer.alloc(160, 0x7f).toString('base64');

const base = () => ({
  event: 'media', sequenceNumber: '2', streamSid: SID,
  media: { track: 'inbound', chunk: '1', timestamp: '20', payload: PAYLOAD },
});

const MISSING = Symbol('missing');
const odd: unknown[] = [
  MISSING, null, 0, 12, -1, 1.5, true, [], ['1'], {}, '', ' ', '1', '01', '+1', '-1', '1e3', ' 1', '1 ', '１',
  '123456789012345', '1234567890123456', 'a', 'inbound', 'outbound', SID, 'MZ-x_y', 'MZ x', 'MZ"x', 'MZ\\x', 'é',
  'x'.repeat(64), 'x'.repeat(65), PAYLOAD, 'AAA=', 'AAA=A', 'AA==', 'A===', 'A', '====', 'not base64!', '////', '++++',
];

function variants(): unknown[] {
  const out: unknown[] = [base()];
  const set = (obj: Record<string, unknown>, key: string, v: unknown) => {
    if (v === MISSING) delete obj[key];
    else obj[key] = v;
  };
  for (const key of ['sequenceNumber', 'streamSid', 'media']) {
    for (const v of odd) {
      const m = base() as Record<string, unknown>;
      set(m, key, v);
      out.push(m);
    }
  }
  for (const key of ['track', 'chunk', 'timestamp', 'payload']) {
    for (const v of odd) {
      const m = base();
      set(m.media as Record<string, unknown>, key, v);
      out.push(m);
    }
  }
  // extra fields are tolerated by both and dropped from the result
  out.push({ ...base(), extra: 1 }, { ...base(), media: { ...base().media, extra: 'x' } });
  // a deterministic mix of two odd fields at once
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
  const keys = ['sequenceNumber', 'streamSid', 'track', 'chunk', 'timestamp', 'payload'];
  for (let i = 0; i < 2000; i++) {
    const m = base();
    for (let k = 0; k < 2; k++) {
      const key = keys[rnd(keys.length)]!;
      const target = key === 'sequenceNumber' || key === 'streamSid' ? (m as Record<string, unknown>) : (m.media as Record<string, unknown>);
      set(target, key, odd[rnd(odd.length)]);
    }
    out.push(m);
  }
  return out;
}

describe('media fast path', () => {
  it('accepts exactly what the schema accepts, and returns what the schema returns', () => {
    let accepted = 0;
    for (const v of variants()) {
      const text = JSON.stringify(v);
      const fast = parseTwilioMessage(text);
      const ref = mediaSchema.safeParse(JSON.parse(text));
      expect({ text, ok: fast.ok }).toEqual({ text, ok: ref.success });
      if (fast.ok && ref.success) {
        expect(fast.msg).toEqual(ref.data);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(20); // the fast path really was taken
  });

  it('still gives the schema\'s reason for a rejected media message', () => {
    const bad = { ...base(), media: { ...base().media, chunk: 1 } };
    const r = parseTwilioMessage(JSON.stringify(bad));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^invalid_media:media\.chunk/);
  });
});

describe('isBase64', () => {
  // The definition, as a regex: groups of four, then an unpadded tail of 2-3 or a padded group.
  const reference = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2,3}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

  it('agrees with the definition on every short string over a mixed alphabet', () => {
    const alphabet = ['A', '/', '=', '-', 'é'];
    let strings = [''];
    let checked = 0;
    for (let len = 0; len <= 7; len++) {
      for (const s of strings) {
        expect({ s, ok: isBase64(s) }).toEqual({ s, ok: reference.test(s) });
        checked++;
      }
      strings = strings.flatMap((s) => alphabet.map((c) => s + c));
    }
    expect(checked).toBeGreaterThan(90_000);
  });

  it('accepts real payloads', () => {
    for (let k = 0; k < 64; k++) {
      const bytes = Buffer.from(Array.from({ length: 160 + (k % 3) }, (_, i) => (i * 31 + k * 7) & 255));
      expect(isBase64(bytes.toString('base64'))).toBe(true);
    }
  });
});
