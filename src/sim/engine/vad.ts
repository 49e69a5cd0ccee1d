/**
 * Energy voice-activity detector for the offline engine's turn-taking. It runs on the continuous
 * caller stream (silence frames included — the protocol has no end-of-input message), measures time
 * in samples rather than wall-clock (so bursts and real-time streams behave alike), and adapts its
 * threshold to the line's noise floor so that comfort noise or a hissy line is not "speech".
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

export type VadEdge =
  | { kind: 'speech_start'; atMs: number }
  | { kind: 'speech_end'; atMs: number; speechMs: number };

const BLOCK_MS = 10;
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
  private floor: number;
  private speaking = false;
  private aboveMs = 0;
  private silenceMs = 0;
  private speechStartMs = 0;
  private clockMs = 0;

  constructor(rate: number, private readonly onEdge: (edge: VadEdge) => void, opts: VadOptions = {}) {
    this.blockSamples = Math.max(1, Math.round((rate * BLOCK_MS) / 1000));
    this.startMs = opts.startMs ?? 60;
    this.endSilenceMs = opts.endSilenceMs ?? 600;
    this.minThreshold = opts.minThreshold ?? 500;
    this.floorFactor = opts.floorFactor ?? 3;
    this.floor = this.minThreshold / this.floorFactor / 2;
  }

  get inSpeech(): boolean { return this.speaking; }
  get noiseFloor(): number { return this.floor; }
  /** Audio time seen so far, in ms. */
  get nowMs(): number { return this.clockMs; }

  /** Feeds caller audio of any length; edges are reported through the callback, in order. */
  push(pcm: Int16Array): void {
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i];
      this.sumSquares += s * s;
      if (++this.count === this.blockSamples) this.endBlock();
    }
  }

  private endBlock(): void {
    const rms = Math.sqrt(this.sumSquares / this.count);
    this.sumSquares = 0;
    this.count = 0;
    this.clockMs += BLOCK_MS;
    const threshold = Math.max(this.minThreshold, this.floor * this.floorFactor);
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
        // Falls quickly (a quiet line is found at once), rises slowly (speech must not raise it).
        this.floor += (rms - this.floor) * (rms < this.floor ? 0.3 : 0.02);
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
