/**
 * End to end over real sockets: the offline engine speaks a call's replies under each pacing
 * profile a real engine may use (20 ms frames ahead of time, the reference server's 150 ms timer
 * chunks, odd-sized chunks split inside samples, TTS bursts, jitter, a pause mid-sentence, the
 * reference server's dialect), through the bridge to the Twilio simulator. Every sample the caller
 * received must be the offline conversion of everything the engine sent (one-block resample with
 * the JavaScript kernel, μ-law by alawmulaw), and nothing the caller heard is louder than the voice.
 * The comparison is of bytes, not timing: it holds on a loaded machine too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineDialect } from '../../src/sim/engine/index.js';
import { CALLER, SUPPORT_NUMBER, startBridgeStack, type BridgeStack } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { offlineMulawConversion, sinadDb } from '../helpers/audio.js';

const ENGINE_RATE = 24000;
const PROFILES: { pacing: string; dialect?: EngineDialect }[] = [
  { pacing: 'realtime' },
  { pacing: 'chunks:150' },
  { pacing: 'chunks:75' },
  { pacing: 'chunks:300+odd' },
  { pacing: 'chunks:7+odd' },
  { pacing: 'burst' },
  { pacing: 'jitter:150:80' },
  { pacing: 'chunks:20+pause:600:300' },
  { pacing: 'chunks:150', dialect: 'reference' },
];

const stacks: BridgeStack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.close()));
});

function offlineConversion(sent: Buffer[]): Int16Array {
  const bytes = Buffer.concat(sent);
  const pcm = new Int16Array(bytes.length >> 1);
  new Uint8Array(pcm.buffer).set(bytes.subarray(0, pcm.length * 2));
  return offlineMulawConversion(pcm, ENGINE_RATE);
}

describe.concurrent('the caller receives exactly what the engine said, under every pacing profile', () => {
  for (const profile of PROFILES) {
    it(`${profile.pacing}${profile.dialect ? ` (${profile.dialect} dialect)` : ''}`, async () => {
      const h = await startBridgeStack({
        outputRate: ENGINE_RATE,
        engine: { pacing: profile.pacing, dialect: profile.dialect, recordAudio: true },
        steps: [
          { say: 'Your order has shipped and is on its way to you.' },
          { say: 'Is there anything else I can help you with today?' },
          { verb: 'end_call', args: { reason: 'done' } },
        ],
      });
      stacks.push(h);
      const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 30_000 });
      const result = await call.done;
      expect(result.violations).toEqual([]);
      expect(h.engine.violations).toEqual([]);
      expect(result.endedBy).toBe('rest-completed');

      const sent = h.engine.sessions.flatMap((s) => s.audioSent ?? []);
      const ref = offlineConversion(sent);
      expect(ref.length).toBeGreaterThan(8000 * 2); // the greeting and two sentences
      expect(result.received.length).toBe(ref.length);
      expect(sinadDb(ref, result.received)).toBeGreaterThanOrEqual(40);
      // No hiss: nothing the caller heard is louder than the voice (amplitude 8000).
      let peak = 0;
      for (const v of result.heard) peak = Math.max(peak, Math.abs(v));
      expect(peak).toBeLessThan(9000);

      await waitFor(() => h.records.length === 1);
      const rec = h.records[0]!;
      expect(rec.playback.replies.length).toBeGreaterThanOrEqual(1);
      expect(rec.playback.replies.every((r) => r.firstFrameMs !== undefined && r.firstFrameMs >= 0)).toBe(true);
      const v2v = rec.playback.replies.map((r) => r.voiceToVoiceMs);
      process.stdout.write(
        `${profile.pacing}${profile.dialect ? ` ${profile.dialect}` : ''}: ${ref.length} samples identical, replies ${rec.playback.replies.length}, underruns ${rec.playback.underruns} (${rec.playback.underrunMs} ms), first frame ${rec.playback.replies.map((r) => r.firstFrameMs).join('/')} ms, v2v ${v2v.join('/')}\n`,
      );
    }, 40_000);
  }
});
