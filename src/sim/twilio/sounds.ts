import { readFile } from 'node:fs/promises';
import { StreamResampler, generateDtmf, readWav } from '../../audio/index.js';
import { synthesize } from '../../speech/tts.js';

/** Everything the simulator makes audible, as 8 kHz mono PCM16 (the telephone's rate). */

export const RATE = 8000;

/** Converts any-rate mono PCM to 8 kHz (a fresh resampler per clip: clips are independent). */
export function toTelephone(samples: Int16Array, rate: number): Int16Array {
  if (rate === RATE) return samples.slice();
  const rs = new StreamResampler(rate, RATE);
  const head = rs.process(samples).slice();
  // Feed a little silence so the filter's tail (the end of the last word) comes out too.
  const tail = rs.process(new Int16Array(Math.ceil(rate / 25))).slice();
  const out = new Int16Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** Offline TTS at 8 kHz; null when synthesis fails (the caller then stays silent, noted). */
export async function speak(text: string): Promise<Int16Array | null> {
  try {
    const { samples, rate } = await synthesize(text);
    return toTelephone(samples, rate);
  } catch {
    return null;
  }
}

/** A WAV file at 8 kHz mono (channels are averaged). */
export async function loadWav(path: string): Promise<Int16Array> {
  const { rate, channels, samples } = readWav(await readFile(path));
  let mono = samples;
  if (channels > 1) {
    mono = new Int16Array(Math.floor(samples.length / channels));
    for (let i = 0; i < mono.length; i++) {
      let sum = 0;
      for (let c = 0; c < channels; c++) sum += samples[i * channels + c]!;
      mono[i] = Math.round(sum / channels);
    }
  }
  return toTelephone(mono, rate);
}

/** Deterministic PRNG (mulberry32): the same script gives the same noise. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Loud, speech-like noise (syllable-rate amplitude modulation) that any VAD calls speech. */
export function noise(ms: number, seed = 1): Int16Array {
  const n = Math.round((ms * RATE) / 1000);
  const out = new Int16Array(n);
  const rnd = prng(seed);
  let lp = 0;
  for (let i = 0; i < n; i++) {
    const env = 0.6 + 0.4 * Math.sin((2 * Math.PI * 4 * i) / RATE);
    lp = 0.7 * lp + 0.3 * (rnd() * 2 - 1); // a little low-pass: less hiss, more voice band
    out[i] = Math.max(-32767, Math.min(32767, Math.round(lp * 30000 * env)));
  }
  return out;
}

/** `<Play digits>`: tones for 0-9 * # A-D; each `w` is half a second of silence. */
export function digitsAudio(digits: string): Int16Array {
  return generateDtmf(digits, RATE, { pauseMs: 500 });
}

function tones(ms: number, freqs: number[], amp: number, onMs: number, offMs: number): Int16Array {
  const n = Math.round((ms * RATE) / 1000);
  const out = new Int16Array(n);
  const period = ((onMs + offMs) * RATE) / 1000;
  const on = (onMs * RATE) / 1000;
  for (let i = 0; i < n; i++) {
    if (i % period >= on) continue;
    let v = 0;
    for (const f of freqs) v += Math.sin((2 * Math.PI * f * i) / RATE);
    out[i] = Math.round((v / freqs.length) * amp);
  }
  return out;
}

/** North-American ringback: 440+480 Hz, 2 s on, 4 s off. */
export function ringback(ms: number): Int16Array {
  return tones(ms, [440, 480], 4000, 2000, 4000);
}

/** Stand-in for hold music from a URL the simulator does not fetch: a soft chime pattern. */
export function holdMusic(ms: number): Int16Array {
  return tones(ms, [523, 659], 2500, 400, 200);
}
