/**
 * Energy voice-activity detector for the offline engine's turn-taking. It runs on the continuous
 * caller stream (silence frames included — the protocol has no end-of-input message), measures time
 * in samples rather than wall-clock (so bursts and real-time streams behave alike), and adapts its
 * threshold to the line's noise floor so that comfort noise or a hissy line is not "speech".
 *
 * The floor is a minimum statistic: the quietest 10 ms block of the last 1–2 s. Speech always has
 * dips between syllables, a line's hiss does not, so the minimum follows the hiss even while the
 * detector believes someone is talking — a line that was noisy from its first frame cannot lock the
 * detector in "speech" (which would make every agent utterance a barge-in).
 */

export interface VadOptions {
  /** Sustained energy needed before speech counts as started. Default 60 ms. */
  startMs?: number;
  /** Silence that ends a caller turn. Default 600 ms. */
  endSilenceMs?: number;
  /** Absolute minimum RMS that can count as speech (PCM16 units). Default 500 (about −36 dBFS). */
  minThreshold?: number;
  /** Speech must be this many times louder than the noise floor. Default 3 (about +10 dB). */
  floorFactor?: number;
}

export type VadEdge = { kind: 'speech_start'; atMs: number } | { kind: 'speech_end'; atMs: number; speechMs: number };

const BLOCK_MS = 10;
/** The minimum is taken over the current and the previous segment of this many blocks. */
const SEGMENT_BLOCKS = 100;
/** Once in speech, a quieter stretch still counts as speech (hysteresis against chopping words). */
const HOLD_RATIO = 0.6;

export class EnergyVad {
  private readonly blockSamples: number;
  private readonly startMs: number;
  private readonly endSilenceMs: number;
  private readonly minThreshold: number;
  private readonly floorFactor: number;
  private sumSquares = 0;
  private count = 0;
  private segmentMin = Infinity;
  private previousMin = Infinity;
  private segmentBlocks = 0;
  private speaking = false;
  private aboveMs = 0;
  private silenceMs = 0;
  private speechStartMs = 0;
  private clockMs = 0;

  constructor(
    rate: number,
    private readonly onEdge: (edge: VadEdge) => void,
    opts: VadOptions = {},
  ) {
    this.blockSamples = Math.max(1, Math.round((rate * BLOCK_MS) / 1000));
    this.startMs = opts.startMs ?? 60;
    this.endSilenceMs = opts.endSilenceMs ?? 600;
    this.minThreshold = opts.minThreshold ?? 500;
    this.floorFactor = opts.floorFactor ?? 3;
  }

  get inSpeech(): boolean {
    return this.speaking;
  }
  get noiseFloor(): number {
    const floor = Math.min(this.segmentMin, this.previousMin);
    return Number.isFinite(floor) ? floor : 0;
  }
  /** Audio time seen so far, in ms. */
  get nowMs(): number {
    return this.clockMs;
  }

  /** Feeds caller audio of any length; edges are reported through the callback, in order. */
  push(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i] as number;
      this.sumSquares += s * s;
      if (++this.count === this.blockSamples) this.endBlock();
    }
  }

  private endBlock(): void {
    const rms = Math.sqrt(this.sumSquares / this.count);
    this.sumSquares = 0;
    this.count = 0;
    this.clockMs += BLOCK_MS;
    if (rms < this.segmentMin) this.segmentMin = rms;
    if (++this.segmentBlocks === SEGMENT_BLOCKS) {
      this.previousMin = this.segmentMin;
      this.segmentMin = Infinity;
      this.segmentBlocks = 0;
    }
    const threshold = Math.max(this.minThreshold, this.noiseFloor * this.floorFactor);
    if (!this.speaking) {
      if (rms > threshold) {
        this.aboveMs += BLOCK_MS;
        if (this.aboveMs >= this.startMs) {
          this.speaking = true;
          this.silenceMs = 0;
          this.speechStartMs = this.clockMs - this.aboveMs;
          this.onEdge({ kind: 'speech_start', atMs: this.speechStartMs });
        }
      } else {
        this.aboveMs = 0;
      }
      return;
    }
    if (rms > threshold * HOLD_RATIO) {
      this.silenceMs = 0;
      return;
    }
    this.silenceMs += BLOCK_MS;
    if (this.silenceMs >= this.endSilenceMs) {
      this.speaking = false;
      this.aboveMs = 0;
      const endMs = this.clockMs - this.silenceMs;
      this.onEdge({ kind: 'speech_end', atMs: endMs, speechMs: endMs - this.speechStartMs });
    }
  }
}
