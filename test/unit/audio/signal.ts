/** Signal helpers shared by the audio tests (not a test file itself). */

import type { StreamResampler } from '../../../src/audio/resampler.js';

/** Sum of unit sines at `freqs`, scaled by `amp`, delayed by `delay` samples (may be fractional). */
export function tones(rate: number, n: number, freqs: number[], amp: number, delay = 0): Float64Array {
  const out = new Float64Array(n);
  for (const f of freqs) {
    const w = (2 * Math.PI * f) / rate;
    for (let i = 0; i < n; i++) out[i]! += amp * Math.sin(w * (i - delay));
  }
  return out;
}

export function toPcm(x: Float64Array): Int16Array {
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i]!)));
  return out;
}

/** Feeds `input` in chunks of `frame` samples and concatenates the (copied) outputs. */
export function streamThrough(r: StreamResampler, input: Int16Array, frame: number): Int16Array {
  const parts: Int16Array[] = [];
  let total = 0;
  for (let i = 0; i < input.length; i += frame) {
    const y = r.process(input.subarray(i, i + frame));
    parts.push(y.slice());
    total += y.length;
  }
  const out = new Int16Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Signal-to-(noise + distortion) of `out` against `ref`, from sample `skip` on. */
export function sinadDb(out: ArrayLike<number>, ref: Float64Array, skip: number): number {
  let s = 0;
  let e = 0;
  const n = Math.min(out.length, ref.length);
  for (let i = skip; i < n; i++) {
    s += ref[i]! * ref[i]!;
    e += (out[i]! - ref[i]!) ** 2;
  }
  return 10 * Math.log10(s / e);
}

export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i]! * x[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
}

/** Mean power (peak²/2 for a sine) of frequency f in x, by Goertzel over the whole span. */
export function tonePower(x: ArrayLike<number>, f: number, rate: number, from = 0, to = x.length): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s0 = x[i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const n = to - from;
  return (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (n * n);
}
