/**
 * Audio a TwiML verb plays to the caller, shared by the executor (Say, Play) and the dial verbs
 * (ringback, hold music, wait prompts).
 */
import type { SimCallPort } from './call-port.js';
import { speak } from './sounds.js';

const ttsCache = new Map<string, Promise<Int16Array | null>>();

/** TTS with a small cache: the same prompt is synthesised once per process. */
export function cachedSpeak(text: string): Promise<Int16Array | null> {
  let p = ttsCache.get(text);
  if (!p) {
    if (ttsCache.size > 200) ttsCache.clear();
    p = speak(text);
    ttsCache.set(text, p);
  }
  return p;
}

/** Plays audio to the caller (when no stream owns the line); false if interrupted. */
export async function playToCaller(
  call: SimCallPort,
  pcm: Int16Array,
  signal: AbortSignal,
  interrupt?: Promise<void>,
): Promise<boolean> {
  let interrupted = false;
  void interrupt?.then(() => (interrupted = true));
  call.verbAudio.push(pcm);
  while (call.verbAudio.length > 0) {
    const ok = await call.clock.sleep(20, signal);
    if (!ok || interrupted) {
      call.verbAudio.clear();
      return false;
    }
  }
  return true;
}
