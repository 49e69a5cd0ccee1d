/**
 * Deterministic voices for the offline engine and the measurements the tests make on what the
 * caller heard: where audio starts and stops, how long it lasts, and at what pitch.
 */
import alawmulaw from 'alawmulaw';
import { CALL_RESAMPLER_QUALITY, StreamResampler } from '../../src/audio/index.js';
import type { TtsResult } from '../../src/speech/tts.js';

/** Threshold (PCM16 peak) above which a sample counts as agent audio (μ-law noise is far below). */
export const AUDIBLE = 1000;

/** Samples of a tone, with 2 ms ramps so edges do not click. */
export function tone(freq: number, ms: number, rate: number, amp = 8000): Int16Array {
  const n = Math.round((ms * rate) / 1000);
  const ramp = Math.max(1, Math.round(rate / 500));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / ramp, (n - 1 - i) / ramp);
    out[i] = Math.round(amp * env * Math.sin((2 * Math.PI * freq * i) / rate));
  }
  return out;
}

/** Consecutive tones (one per entry of `freqs`, `segMs` each): audio whose order can be checked. */
export function steps(freqs: number[], segMs: number, rate: number, amp = 8000): Int16Array {
  const seg = Math.round((segMs * rate) / 1000);
  const out = new Int16Array(seg * freqs.length);
  freqs.forEach((f, k) => {
    for (let i = 0; i < seg; i++) out[k * seg + i] = Math.round(amp * Math.sin((2 * Math.PI * f * i) / rate));
  });
  return out;
}

/**
 * An offline-engine voice that "speaks" a tone: its pitch and length are chosen per text, so a
 * test knows exactly what the caller must hear. 16 kHz like Flite, so the engine resamples it.
 */
export function toneVoice(pick: (text: string) => { freq: number; ms: number }, rate = 16000) {
  return async (text: string): Promise<TtsResult> => {
    const { freq, ms } = pick(text);
    return { samples: tone(freq, ms, rate), rate };
  };
}

/** First and last sample above `threshold`, or undefined when nothing is audible. */
export function audibleSpan(
  pcm: Int16Array,
  from = 0,
  to = pcm.length,
  threshold = AUDIBLE,
): { first: number; last: number } | undefined {
  let first = -1;
  let last = -1;
  for (let i = from; i < Math.min(to, pcm.length); i++) {
    if (Math.abs(pcm[i]!) >= threshold) {
      if (first < 0) first = i;
      last = i;
    }
  }
  return first < 0 ? undefined : { first, last };
}

/** 2.5 ms blocks: every tone the tests use (≥ 400 Hz) peaks inside each block it sounds in. */
const BLOCK_MS = 2.5;

/** Per block of pcm[from, to): does it hold audible audio? */
function audibleBlocks(
  pcm: Int16Array,
  from: number,
  to: number,
  rate: number,
  threshold: number,
): { block: number; mask: Uint8Array } {
  const block = Math.max(1, Math.round((rate * BLOCK_MS) / 1000));
  const end = Math.min(to, pcm.length);
  const mask = new Uint8Array(Math.max(0, Math.ceil((end - from) / block)));
  for (let b = 0; b < mask.length; b++) {
    const a = from + b * block;
    for (let i = a; i < Math.min(end, a + block); i++) {
      if (Math.abs(pcm[i]!) >= threshold) {
        mask[b] = 1;
        break;
      }
    }
  }
  return { block, mask };
}

/**
 * Pitch by zero crossings over the audible stretches of pcm[from, to): silent gaps (a playout
 * underrun on a loaded machine) neither add nor remove cycles. Exact enough for one clean tone.
 */
export function pitch(pcm: Int16Array, from: number, to: number, rate: number, threshold = AUDIBLE): number {
  const { block, mask } = audibleBlocks(pcm, from, to, rate, threshold);
  let crossings = 0;
  let samples = 0;
  for (let b = 0; b < mask.length; b++) {
    if (!mask[b]) continue;
    const a = from + b * block;
    const e = Math.min(to, pcm.length, a + block);
    samples += e - a;
    // the crossing into this block counts only when the previous block sounded too
    for (let i = b > 0 && mask[b - 1] ? a : a + 1; i < e; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) crossings++;
  }
  return samples === 0 ? 0 : (crossings / 2) * (rate / samples);
}

/** Relative power of `freq` in pcm[from, to) (Goertzel, normalised by length and energy). */
export function toneShare(pcm: Int16Array, from: number, to: number, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = from; i < to; i++) {
    const x = pcm[i]!;
    energy += x * x;
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  const n = to - from;
  return energy === 0 ? 0 : (2 * power) / (n * energy);
}

/** Of `freqs`, the one strongest in pcm[from, to). */
export function strongest(pcm: Int16Array, from: number, to: number, rate: number, freqs: number[]): number {
  let best = freqs[0]!;
  let bestP = -1;
  for (const f of freqs) {
    const p = toneShare(pcm, from, to, rate, f);
    if (p > bestP) {
      bestP = p;
      best = f;
    }
  }
  return best;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/**
 * The tones of `freqs` heard in order: each audible 20 ms frame is given its strongest tone,
 * repeats are collapsed, and runs shorter than `minFrames` (boundary frames) are ignored.
 */
export function toneSequence(pcm: Int16Array, rate: number, freqs: number[], minFrames = 2): number[] {
  const frame = rate / 50;
  const runs: { f: number; n: number }[] = [];
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    if (!audibleSpan(pcm, at, at + frame)) continue;
    const f = strongest(pcm, at, at + frame, rate, freqs);
    const last = runs.at(-1);
    if (last && last.f === f) last.n++;
    else runs.push({ f, n: 1 });
  }
  const out: number[] = [];
  for (const r of runs) if (r.n >= minFrames && out.at(-1) !== r.f) out.push(r.f);
  return out;
}

/**
 * Sample index where `target` starts being heard: the first audible frame of the first run of
 * at least `minFrames` frames whose strongest tone among `freqs` is `target` (-1 if none).
 */
export function firstFrameOf(pcm: Int16Array, frame: number, freqs: number[], target: number, minFrames = 2): number {
  let runStart = -1;
  let run = 0;
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    if (!audibleSpan(pcm, at, at + frame)) continue;
    if (strongest(pcm, at, at + frame, frame * 50, freqs) !== target) {
      run = 0;
      continue;
    }
    if (run++ === 0) runStart = at;
    if (run >= minFrames) return runStart;
  }
  return -1;
}

/**
 * Spans of audible audio (samples above `threshold`, gaps shorter than `gapMs` bridged), in
 * samples: [first, last] of each utterance heard.
 */
export function audibleRuns(
  pcm: Int16Array,
  rate: number,
  gapMs = 60,
  threshold = AUDIBLE,
): { first: number; last: number }[] {
  const gap = (gapMs * rate) / 1000;
  const out: { first: number; last: number }[] = [];
  for (let i = 0; i < pcm.length; i++) {
    if (Math.abs(pcm[i]!) < threshold) continue;
    const last = out.at(-1);
    if (last && i - last.last <= gap) last.last = i;
    else out.push({ first: i, last: i });
  }
  return out;
}

/** Total ms of audible audio in pcm[from, to), to 2.5 ms: silent gaps inside utterances are not counted. */
export function audibleMs(pcm: Int16Array, rate: number, from = 0, to = pcm.length, threshold = AUDIBLE): number {
  const { mask } = audibleBlocks(pcm, from, to, rate, threshold);
  let n = 0;
  for (const m of mask) n += m;
  return n * BLOCK_MS;
}

/**
 * What the caller must receive for agent audio `pcm` at `rate`: the whole signal resampled to
 * 8 kHz in one block (the JavaScript kernel) and μ-law coded by alawmulaw — the reference the
 * bridge's streaming path is compared with, computed another way.
 */
export function offlineMulawConversion(pcm: Int16Array, rate: number): Int16Array {
  const pcm8k = new StreamResampler(rate, 8000, { quality: CALL_RESAMPLER_QUALITY, kernel: 'js' }).process(pcm).slice();
  return alawmulaw.mulaw.decode(alawmulaw.mulaw.encode(pcm8k));
}

/** Signal to noise-and-distortion of `got` against `ref` over ref's length (dB; Infinity when equal). */
export function sinadDb(ref: Int16Array, got: Int16Array): number {
  let sig = 0;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    sig += ref[i]! * ref[i]!;
    const e = (got[i] ?? 0) - ref[i]!;
    err += e * e;
  }
  return err === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(sig / err);
}

/**
 * SINAD (dB) of pcm[from, to) as a pure tone of `freq`: the least-squares fit of a sine, a
 * cosine and a DC term is the signal, the residual is noise and distortion. A reference computed
 * from the samples alone, so it needs no alignment with what was sent; G.711 caps it near 38 dB
 * for a loud tone, silence or noise scores near 0.
 */
export function toneSinadDb(pcm: Int16Array, from: number, to: number, rate: number, freq: number): number {
  // normal equations of [sin, cos, 1]
  const w = (2 * Math.PI * freq) / rate;
  const m = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const v = [0, 0, 0];
  for (let i = from; i < to; i++) {
    const b = [Math.sin(w * i), Math.cos(w * i), 1];
    const y = pcm[i]!;
    for (let r = 0; r < 3; r++) {
      v[r]! += b[r]! * y;
      for (let c = 0; c < 3; c++) m[3 * r + c]! += b[r]! * b[c]!;
    }
  }
  const x = solve3(m, v);
  let sig = 0;
  let err = 0;
  for (let i = from; i < to; i++) {
    const fit = x[0]! * Math.sin(w * i) + x[1]! * Math.cos(w * i);
    const e = pcm[i]! - fit - x[2]!;
    sig += fit * fit;
    err += e * e;
  }
  return err === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(sig / err);
}

function solve3(m: number[], v: number[]): number[] {
  const det = (a: number[]) =>
    a[0]! * (a[4]! * a[8]! - a[5]! * a[7]!) -
    a[1]! * (a[3]! * a[8]! - a[5]! * a[6]!) +
    a[2]! * (a[3]! * a[7]! - a[4]! * a[6]!);
  const d = det(m);
  if (d === 0) return [0, 0, 0];
  return [0, 1, 2].map((k) => {
    const a = [...m];
    for (let r = 0; r < 3; r++) a[3 * r + k] = v[r]!;
    return det(a) / d;
  });
}

/**
 * Utterance by utterance, `got` found in `ref`: each audible run of `got` is placed where its
 * opening 10 ms occur in `ref` (the pauses between replies are the call's, not the reference's),
 * then compared sample for sample with 10 ms either side (past the reference's end, with silence). Returns the samples compared, how many
 * differ, and the lowest SINAD among the utterances (-Infinity for one not found at all).
 */
export function compareUtterances(ref: Int16Array, got: Int16Array, rate: number) {
  const runs = audibleRuns(got, rate);
  const pad = Math.round(rate / 100);
  const probe = Math.round(rate / 100);
  let compared = 0;
  let differ = 0;
  let worst = Number.POSITIVE_INFINITY;
  let from = 0;
  const each: number[] = [];
  for (const run of runs) {
    const before = Math.min(pad, run.first);
    const b = got.subarray(run.first - before, run.last + 1 + pad);
    let at = -1;
    for (let p = from; p + probe <= ref.length && at < 0; p++) {
      let i = 0;
      while (i < probe && ref[p + i] === got[run.first + i]) i++;
      if (i === probe) at = p;
    }
    if (at < 0) {
      // not found exactly: compare against its own place in time, which scores it as noise
      differ += b.length;
      compared += b.length;
      each.push(b.length);
      worst = Math.min(worst, sinadDb(b, ref.subarray(run.first - before, run.last + 1 + pad)));
      continue;
    }
    if (at < before) continue; // cannot happen for a real match: ref opens with silence too
    const a = ref.subarray(at - before, at - before + b.length);
    compared += b.length;
    let d = 0;
    // past the reference's end the caller must hear silence (a reply's last frame is padded)
    for (let i = 0; i < b.length; i++) if (i < a.length ? a[i] !== b[i] : b[i] !== 0) d++;
    differ += d;
    each.push(d);
    worst = Math.min(worst, sinadDb(a, b));
    from = at + b.length - before;
  }
  return { utterances: runs.length, compared, differ, worst, each };
}
