import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { isBase64, markSchema, mediaSchema, parseTwilioMessage } from '../../../src/twilio/messages.js';
import { SID, base, odd, variants } from './media-variants.js';

// `media` is parsed by a hand-written fast path; the zod schema stays the reference. These tests
// fail as soon as the two disagree about any message (one accepts what the other refuses, or
// they return different objects).

/** Parses every message both ways; returns how many both accepted (with equal results). */
function expectAgreement(messages: unknown[], schema: z.ZodType): number {
  let accepted = 0;
  for (const v of messages) {
    const text = JSON.stringify(v);
    if (text === undefined) continue;
    const fast = parseTwilioMessage(text);
    const ref = schema.safeParse(JSON.parse(text));
    expect({ text, ok: fast.ok }).toEqual({ text, ok: ref.success });
    if (fast.ok && ref.success) {
      expect(fast.msg).toEqual(ref.data);
      accepted++;
    }
  }
  return accepted;
}

describe('media fast path', () => {
  it('accepts exactly what the schema accepts, and returns what the schema returns', () => {
    expect(expectAgreement(variants(), mediaSchema)).toBeGreaterThan(20); // the fast path really was taken
  });

  it("still gives the schema's reason for a rejected media message", () => {
    const bad = { ...base(), media: { ...base().media, chunk: 1 } };
    const r = parseTwilioMessage(JSON.stringify(bad));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/^invalid_media:media\.chunk/);
  });
});

describe('mark fast path', () => {
  it('accepts exactly what markSchema accepts, and returns what it returns', () => {
    const markBase = () => ({ event: 'mark', sequenceNumber: '9', streamSid: SID, mark: { name: '3:17' } });
    const all: unknown[] = [
      markBase(),
      { ...markBase(), extra: 1 },
      { ...markBase(), mark: { name: 'x', extra: true } },
    ];
    const names = [...odd, 'n'.repeat(256), 'n'.repeat(257), 'gen"1\\-3', '\u0000'];
    for (const v of names) all.push({ ...markBase(), mark: { name: v } }, { ...markBase(), mark: v });
    for (const key of ['sequenceNumber', 'streamSid'] as const)
      for (const v of odd) all.push({ ...markBase(), [key]: v });
    expect(expectAgreement(all, markSchema)).toBeGreaterThan(10);
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
