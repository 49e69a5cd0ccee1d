import { CALL_RESAMPLER_QUALITY, encodeMulaw, StreamResampler } from '../audio/index.js';
import type { Logger } from '../observability/logger.js';
import { synthesize } from './tts.js';

/** `text` as the offline synthesizer says it, as μ-law 8 kHz: what a SIP leg plays (it has no telephony TTS). */
export async function speakMulaw8k(text: string, log?: Logger): Promise<Uint8Array> {
  const t = await synthesize(text, log);
  const pcm8k =
    t.rate === 8000
      ? t.samples
      : new StreamResampler(t.rate, 8000, { quality: CALL_RESAMPLER_QUALITY }).process(t.samples).slice();
  return encodeMulaw(pcm8k);
}
