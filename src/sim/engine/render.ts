/**
 * Text → agent audio at the session's output rate. The voice's own rate (Flite: 16 kHz) is
 * converted with the project's streaming resampler, so every engine session exercises resampling
 * whenever its output rate differs.
 */
import { StreamResampler } from '../../audio/index.js';
import type { TtsResult } from '../../speech/tts.js';

export async function renderSpeech(
  tts: (text: string) => Promise<TtsResult>,
  text: string,
  outRate: number,
): Promise<Int16Array> {
  const { samples, rate } = await tts(text);
  if (rate === outRate || samples.length === 0) return samples;
  return resampleWhole(samples, rate, outRate);
}

/** Resamples a complete utterance: pads the input so the filter's delay line is flushed, then trims that delay. */
export function resampleWhole(samples: Int16Array, inRate: number, outRate: number): Int16Array {
  const rs = new StreamResampler(inRate, outRate);
  const delayOut = rs.latencySamples;
  const padIn = Math.ceil(((delayOut + 2) * inRate) / outRate);
  const padded = new Int16Array(samples.length + padIn);
  padded.set(samples);
  const out = rs.process(padded);
  const want = Math.round((samples.length * outRate) / inRate);
  // process() returns a view into the resampler's reused buffer: copy what we keep.
  return out.slice(delayOut, Math.min(out.length, delayOut + want));
}
