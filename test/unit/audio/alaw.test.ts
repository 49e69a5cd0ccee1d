import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import { ALAW_SILENCE, decodeAlaw, encodeAlaw } from '../../../src/audio/alaw.js';

const allSamples = (): Int16Array => {
  const x = new Int16Array(65536);
  for (let i = 0; i < 65536; i++) x[i] = i - 32768;
  return x;
};
const allBytes = () => new Uint8Array(256).map((_, i) => i);

/**
 * G.711 Table 1 read directly: after inverting the even bits, bit 7 is the sign (1 = positive),
 * bits 6–4 the segment s, bits 3–0 the step q; the reconstruction value in 13-bit units is
 * 2q+1 in segment 0 and (2q+33)·2^(s−1) above, times 8 for 16-bit PCM.
 */
function tableValue(byte: number): number {
  const a = byte ^ 0x55;
  const s = (a >> 4) & 7;
  const q = a & 15;
  const mag = (s === 0 ? 2 * q + 1 : (2 * q + 33) * 2 ** (s - 1)) * 8;
  return a & 0x80 ? mag : -mag;
}

/** The continuous A-law curve (A = 87.6) the segments approximate, on a 0..128 code scale. */
function curve(x: number): number {
  const A = 87.6;
  const ax = Math.abs(x) / 32768;
  const y = ax < 1 / A ? (A * ax) / (1 + Math.log(A)) : (1 + Math.log(A * ax)) / (1 + Math.log(A));
  return 128 * y;
}

describe('A-law codec', () => {
  it('decodes every byte to the G.711 table value', () => {
    const got = decodeAlaw(allBytes());
    for (let b = 0; b < 256; b++) expect([b, got[b]]).toEqual([b, tableValue(b)]);
  });

  it('encodes every sample within its segment of the A-law curve, and into the interval around its decoded value', () => {
    const x = allSamples();
    const codes = encodeAlaw(x);
    const back = decodeAlaw(codes);
    // One assertion over all 65,536 samples (an expect per sample costs seconds): the wrong ones, listed.
    const wrong: string[] = [];
    for (let i = 0; i < x.length && wrong.length < 5; i++) {
      const xi = x[i]!;
      const a = codes[i]! ^ 0x55;
      const index = a & 0x7f; // segment·16 + step: 0..127 along the curve
      if (!(Math.abs(index + 0.5 - curve(xi)) < 2)) wrong.push(`${xi}: index ${index} off the curve`);
      // sign kept (zero is coded positive), and the error within half a step of the segment
      if (xi !== 0 && Math.sign(back[i]!) !== (Math.sign(xi) || 1)) wrong.push(`${xi}: sign lost (${back[i]})`);
      const s = (a >> 4) & 7;
      const halfStep = (s <= 1 ? 16 : 16 << (s - 1)) / 2;
      if (Math.abs(xi) < 32256 && Math.abs(back[i]! - xi) > halfStep) wrong.push(`${xi}: decoded ${back[i]}`);
    }
    expect(wrong).toEqual([]);
  });

  it('decodes like the alawmulaw coder, and encodes like it except on negative decision levels', () => {
    expect(Array.from(decodeAlaw(allBytes()))).toEqual(Array.from(alawmulaw.alaw.decode(allBytes())));
    // The ITU reference (G.191, and Sun's g711.c) takes the ones' complement of a negative sample, so
    // a negative sample exactly on a decision level goes to the smaller magnitude; alawmulaw negates
    // it and goes to the larger. Everywhere else the two agree.
    const x = allSamples();
    const ours = encodeAlaw(x);
    const theirs = alawmulaw.alaw.encode(x);
    let differing = 0;
    for (let i = 0; i < x.length; i++) {
      if (ours[i] === theirs[i]) continue;
      differing++;
      expect(x[i]!).toBeLessThan(0);
      expect(((theirs[i]! ^ 0x55) & 0x7f) - ((ours[i]! ^ 0x55) & 0x7f)).toBe(1);
    }
    expect(differing).toBe(127);
  });

  it('round-trips every code word and codes silence as 0xD5', () => {
    const again = encodeAlaw(decodeAlaw(allBytes()));
    expect(Array.from(again)).toEqual(Array.from(allBytes()));
    expect(encodeAlaw(new Int16Array([0]))[0]).toBe(ALAW_SILENCE);
  });

  it('writes into a given buffer and refuses one too small', () => {
    const dst = new Uint8Array(4);
    expect(encodeAlaw(new Int16Array([0, 1000, -1000, 32767]), dst)).toBe(dst);
    expect(() => encodeAlaw(new Int16Array(5), dst)).toThrow(RangeError);
    expect(() => decodeAlaw(new Uint8Array(5), new Int16Array(4))).toThrow(RangeError);
  });
});
