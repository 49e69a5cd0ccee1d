import {
  CALL_RESAMPLER_QUALITY,
  Framer,
  GapFiller,
  StreamResampler,
  decodeMulaw,
  frameSamples,
} from '../audio/index.js';

/**
 * Caller audio of one call: the leg's μ-law 8 kHz chunks (any size) become exact 20 ms PCM16
 * frames at the engine's rate. Gaps in the media timestamps are filled with silence so the
 * engine's clock (and its endpointer, which needs the silence) never skips; late or duplicate
 * chunks are dropped and counted. All buffers are reused: this runs 50 times a second per call.
 */
export class InboundAudio {
  private readonly resampler: StreamResampler;
  private readonly framer: Framer;
  private gaps = new GapFiller(8000);
  private pcm8k = new Int16Array(160);
  private silence8k = new Int16Array(160);
  stats = { chunks: 0, lateChunks: 0, silenceFilledMs: 0 };
  private lastChunkAt = 0;

  constructor(
    readonly engineRate: number,
    private readonly onFrame: (pcm: Int16Array) => void,
  ) {
    this.resampler = new StreamResampler(8000, engineRate, { quality: CALL_RESAMPLER_QUALITY });
    this.framer = new Framer(frameSamples(engineRate));
  }

  /**
   * One chunk of the leg's caller audio. `timestampMs` is the media timestamp, if known;
   * `nowMs` the arrival time (performance.now(), which the caller usually has already).
   */
  pushMulaw(mulaw: Uint8Array, timestampMs?: number, nowMs = performance.now()): void {
    if (mulaw.length === 0) return;
    if (timestampMs !== undefined) {
      const fill = this.gaps.check(timestampMs, mulaw.length);
      if (fill < 0) {
        this.stats.lateChunks++;
        return;
      }
      if (fill > 0) {
        // Real gaps are time that has passed: a timestamp that jumps further than the wall
        // clock since the last chunk (+100 ms of jitter) is not a gap, and must not make the
        // bridge generate seconds of silence per message for whoever sends it.
        const elapsed = this.lastChunkAt ? nowMs - this.lastChunkAt : 0;
        const n = Math.min(fill, Math.round((elapsed + 100) * 8));
        this.stats.silenceFilledMs += n / 8;
        this.pushSilenceSamples(n);
      }
    }
    this.stats.chunks++;
    this.lastChunkAt = nowMs;
    if (this.pcm8k.length < mulaw.length) this.pcm8k = new Int16Array(mulaw.length);
    const pcm = this.pcm8k.subarray(0, mulaw.length);
    decodeMulaw(mulaw, pcm);
    this.framer.push(this.resampler.process(pcm), this.onFrame);
  }

  /** A new stream restarts media timestamps at 0. */
  resetTimeline(): void {
    this.gaps = new GapFiller(8000);
  }

  /** Silence in place of caller audio (gaps, or while no stream is attached yet). */
  pushSilenceMs(ms: number): void {
    this.pushSilenceSamples(Math.round(ms * 8));
  }

  private pushSilenceSamples(n: number): void {
    let left = n;
    while (left > 0) {
      const k = Math.min(left, this.silence8k.length);
      this.framer.push(this.resampler.process(this.silence8k.subarray(0, k)), this.onFrame);
      left -= k;
    }
  }
}
