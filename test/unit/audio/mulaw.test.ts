import { describe, expect, it } from 'vitest';
import alawmulaw from 'alawmulaw';
import { decodeMulaw, encodeMulaw, MULAW_SILENCE } from '../../../src/audio/mulaw.js';
import { at } from '../../helpers/checked.js';

const allSamples = (): Int16Array => {
  const x = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) x[i] = i - 32768;
  return x;
};

describe('μ-law codec', () => {
  it('encodes every 16-bit sample exactly like the reference coder (alawmulaw)', () => {
    const x = allSamples();
    expect(Array.from(encodeMulaw(x))).toEqual(Array.from(alawmulaw.mulaw.encode(x)));
  });

  it('decodes every byte exactly like the reference decoder (alawmulaw)', () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    expect(Array.from(decodeMulaw(bytes))).toEqual(Array.from(alawmulaw.mulaw.decode(bytes)));
  });

  it('round-trips every code word (decode then encode is the identity, except −0 → +0)', () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const again = encodeMulaw(decodeMulaw(bytes));
    for (let i = 0; i < 256; i++) expect(again[i]).toBe(i === 0x7f ? 0xff : i);
  });

  it('keeps the round-trip error of any sample within half a quantisation step', () => {
    const x = allSamples();
    const y = decodeMulaw(encodeMulaw(x));
    for (let i = 0; i < x.length; i += 7) {
      const xi = x[i]!;
      const mag = Math.min(Math.abs(xi), 32124);
      // step size of the segment the sample falls in: 8 in the lowest, doubling per segment
      const step = 8 << Math.max(0, Math.floor(Math.log2((mag + 132) / 256)) + 1);
      expect(Math.abs(Math.max(-32124, Math.min(32124, xi)) - at(y, i, 'decoded'))).toBeLessThanOrEqual(step / 2);
    }
  });

  it('uses 0xff for silence', () => {
    expect(MULAW_SILENCE).toBe(0xff);
    expect(encodeMulaw(new Int16Array([0]))[0]).toBe(0xff);
    expect(decodeMulaw(new Uint8Array([MULAW_SILENCE]))[0]).toBe(0);
  });

  it('writes into a caller buffer when given and rejects one that is too small', () => {
    const dst = new Int16Array(4).fill(99);
    const got = decodeMulaw(new Uint8Array([0xff, 0x80]), dst);
    expect(got).toBe(dst);
    expect(Array.from(dst)).toEqual([0, 32124, 99, 99]);
    const enc = new Uint8Array(2);
    expect(encodeMulaw(new Int16Array([0, 1000]), enc)).toBe(enc);
    expect(() => encodeMulaw(new Int16Array(3), new Uint8Array(2))).toThrow(RangeError);
    expect(() => decodeMulaw(new Uint8Array(3), new Int16Array(2))).toThrow(RangeError);
  });
});
