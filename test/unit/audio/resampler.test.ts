import { describe, expect, it } from 'vitest';
import { StreamResampler } from '../../../src/audio/resampler.js';
import { at } from '../../helpers/checked.js';
import { rms, sinadDb, streamThrough, toPcm, tones } from './signal.js';

const RATES = [8000, 16000, 22050, 24000, 44100, 48000];
const BAND = [310, 437, 1031, 2203, 3011, 3390]; // telephone band, periods do not divide 20 ms

function multiTone(rate: number, seconds: number): Int16Array {
  return toPcm(tones(rate, Math.round(rate * seconds), BAND, 3000));
}

describe('StreamResampler', () => {
  it('gives the same output for 20 ms frames, odd-sized chunks and one big block', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
      [8000, 22050],
      [44100, 8000],
    ] as const) {
      const x = multiTone(a, 1);
      const whole = streamThrough(new StreamResampler(a, b), x, x.length);
      const frames = streamThrough(new StreamResampler(a, b), x, a / 50);
      expect(frames.length).toBe(whole.length);
      expect(Array.from(frames)).toEqual(Array.from(whole));
      // awkward chunk sizes, including 1 sample and more than the kernel's slice size
      const r = new StreamResampler(a, b);
      const parts: number[] = [];
      const sizes = [1, 7, 159, 161, 5000, 3, 480];
      for (let i = 0, k = 0; i < x.length; k++) {
        const n = at(sizes, k % sizes.length, 'sizes');
        parts.push(...r.process(x.subarray(i, i + n)));
        i += n;
      }
      expect(parts).toEqual(Array.from(whole));
    }
  });

  it('joins 20 ms frames without clicks (sample steps stay those of the sine)', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
    ] as const) {
      const amp = 10000;
      const y = streamThrough(new StreamResampler(a, b), toPcm(tones(a, a, [1000], amp)), a / 50);
      let maxStep = 0;
      for (let i = b / 10; i < y.length; i++) maxStep = Math.max(maxStep, Math.abs(y[i]! - y[i - 1]!));
      // a 1 kHz sine moves at most amp·2π·1000/rate per sample; allow 2 % slack
      expect(maxStep).toBeLessThan(amp * ((2 * Math.PI * 1000) / b) * 1.02);
    }
  });

  it('produces exactly ceil(totalIn·out/in) samples at every point of a stream, no drift', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
      [8000, 22050],
      [44100, 16000],
      [48000, 44100],
    ] as const) {
      const r = new StreamResampler(a, b);
      let tin = 0;
      let tout = 0;
      let seed = 7;
      for (let k = 0; k < 400; k++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        const n = seed % 700;
        tout += r.process(new Int16Array(n)).length;
        tin += n;
        expect(Math.abs(tout - Math.floor((tin * b) / a))).toBeLessThanOrEqual(1);
      }
      expect(tout).toBe(Math.ceil((tin * b) / a));
    }
  });

  for (const [a, b] of [
    [8000, 24000],
    [24000, 8000],
  ] as const) {
    it(`reaches SINAD ≥ 70 dB on a 300–3400 Hz multi-tone, ${a}→${b} in 20 ms frames`, () => {
      const r = new StreamResampler(a, b);
      const y = streamThrough(r, multiTone(a, 2), a / 50);
      const ref = tones(b, y.length, BAND, 3000, r.latencySamples);
      expect(sinadDb(y, ref, b / 10)).toBeGreaterThanOrEqual(70);
    });
  }

  it('attenuates out-of-band tones (4.6–11 kHz) by at least 60 dB going 24k→8k', () => {
    for (const f of [4600, 5000, 6000, 7000, 8000, 9500, 11000]) {
      const x = toPcm(tones(24000, 24000, [f], 20000));
      const y = streamThrough(new StreamResampler(24000, 8000), x, 480);
      const rejectionDb = 20 * Math.log10(rms(x) / rms(y, 800));
      expect(rejectionDb, `${f} Hz`).toBeGreaterThanOrEqual(60);
    }
  });

  it('never modifies its input', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
      [16000, 16000],
    ] as const) {
      const x = multiTone(a, 0.1);
      const copy = x.slice();
      const r = new StreamResampler(a, b);
      r.process(x);
      r.process(x.subarray(0, 100));
      expect(Array.from(x)).toEqual(Array.from(copy));
    }
  });

  it('converts a 1 kHz tone cleanly between every pair of supported rates', () => {
    for (const a of RATES) {
      for (const b of RATES) {
        const r = new StreamResampler(a, b);
        const y = streamThrough(r, toPcm(tones(a, Math.round(a * 0.3), [1000], 8000)), Math.round(a / 50));
        expect(Math.abs(y.length - Math.floor((a * 0.3 * b) / a))).toBeLessThanOrEqual(1);
        const ref = tones(b, y.length, [1000], 8000, r.latencySamples);
        expect(sinadDb(y, ref, Math.round(b * 0.05)), `${a}→${b}`).toBeGreaterThan(70);
      }
    }
  });

  it('passes equal rates through as a copy', () => {
    const r = new StreamResampler(16000, 16000);
    const x = multiTone(16000, 0.02);
    const y = r.process(x);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(r.latencySamples).toBe(0);
  });

  it('computes the same samples with the portable JavaScript kernel (±1 LSB)', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
      [8000, 22050],
    ] as const) {
      const x = multiTone(a, 0.5);
      const simd = streamThrough(new StreamResampler(a, b), x, a / 50);
      const js = streamThrough(new StreamResampler(a, b, { kernel: 'js' }), x, a / 50);
      expect(js.length).toBe(simd.length);
      let maxDiff = 0;
      for (let i = 0; i < js.length; i++) maxDiff = Math.max(maxDiff, Math.abs(js[i]! - simd[i]!));
      expect(maxDiff).toBeLessThanOrEqual(1);
    }
  });

  it('starts a fresh stream after reset()', () => {
    const x = multiTone(8000, 0.2);
    const fresh = streamThrough(new StreamResampler(8000, 24000), x, 160);
    const r = new StreamResampler(8000, 24000);
    streamThrough(r, multiTone(8000, 0.13), 160);
    r.reset();
    expect(Array.from(streamThrough(r, x, 160))).toEqual(Array.from(fresh));
  });

  it('reuses its output buffer between calls (callers must copy)', () => {
    const r = new StreamResampler(8000, 24000);
    const first = r.process(new Int16Array(160).fill(1000));
    const second = r.process(new Int16Array(160));
    expect(second.buffer).toBe(first.buffer);
  });

  it('keeps SINAD ≥ 65 dB at medium quality', () => {
    for (const [a, b] of [
      [8000, 24000],
      [24000, 8000],
    ] as const) {
      const r = new StreamResampler(a, b, { quality: 'medium' });
      const y = streamThrough(r, multiTone(a, 1), a / 50);
      expect(sinadDb(y, tones(b, y.length, BAND, 3000, r.latencySamples), b / 10)).toBeGreaterThanOrEqual(65);
    }
  });

  it('rejects rates it cannot handle', () => {
    expect(() => new StreamResampler(0, 8000)).toThrow(RangeError);
    expect(() => new StreamResampler(8000, 8000.5)).toThrow(RangeError);
    expect(() => new StreamResampler(8000, 1e9)).toThrow(RangeError);
    expect(() => new StreamResampler(Number.NaN, 8000)).toThrow(RangeError);
    // coprime rates that would need a huge polyphase table
    expect(() => new StreamResampler(44101, 48000)).toThrow(RangeError);
  });
});
