/**
 * Hold audio: a looping player with a click-free fade-out, and a generated default loop.
 */

const DEFAULT_FADE_MS = 300;

export class HoldPlayer {
  readonly rate: number;
  private readonly source: Int16Array;
  private pos = 0;
  private gain = 1;
  /** gain lost per sample while fading; 0 when not fading */
  private step = 0;
  private finished = false;

  /** `source` is played as is (not copied; do not modify it while playing) at `rate`. */
  constructor(source: Int16Array, rate: number) {
    if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`HoldPlayer: bad rate ${rate}`);
    this.source = source;
    this.rate = rate;
  }

  /** True once a fade-out has completed; from then on read() yields silence. */
  get done(): boolean {
    return this.finished;
  }

  /** Fills `out` with the next samples, wrapping round the end of the source. */
  read(out: Int16Array): void {
    const src = this.source;
    const len = src.length;
    if (this.finished || len === 0) {
      out.fill(0);
      return;
    }
    let pos = this.pos;
    if (this.step === 0) {
      for (let i = 0; i < out.length; i++) {
        out[i] = src[pos] as number;
        if (++pos === len) pos = 0;
      }
    } else {
      let gain = this.gain;
      for (let i = 0; i < out.length; i++) {
        if (gain <= 0) {
          out.fill(0, i);
          this.finished = true;
          break;
        }
        out[i] = Math.round((src[pos] as number) * gain);
        gain -= this.step;
        if (++pos === len) pos = 0;
      }
      this.gain = Math.max(0, gain);
      if (this.gain === 0) this.finished = true;
    }
    this.pos = pos;
  }

  /**
   * Starts a linear fade to silence over `fadeMs` (default 300 ms) from the current gain; a
   * ramp of a few hundred ms is heard as "the music stops", not as a cut. Calling it again
   * while fading restarts the ramp from where it is.
   */
  fadeOut(fadeMs = DEFAULT_FADE_MS): void {
    if (this.finished) return;
    const n = Math.max(1, Math.round((Math.max(0, fadeMs) * this.rate) / 1000));
    this.step = this.gain / n;
  }

  /** Back to the start of the loop at full level. */
  reset(): void {
    this.pos = 0;
    this.gain = 1;
    this.step = 0;
    this.finished = false;
  }
}

/** Target loudness of the generated loop: about −20 dBFS RMS, soft under speech. */
const HOLD_RMS = 32767 * 10 ** (-20 / 20);

/** Four chords (Cmaj7, Am7, Fmaj7, G6), notes in 260–1050 Hz: squarely inside the phone band. */
const CHORDS: number[][] = [
  [261.63, 329.63, 392.0, 493.88],
  [261.63, 329.63, 392.0, 440.0],
  [349.23, 440.0, 523.25, 659.25],
  [392.0, 493.88, 587.33, 659.25],
];

/**
 * Generates a gentle arpeggio loop: soft bell-like notes (fundamental + quiet 2nd/3rd partials,
 * fast attack, exponential decay) four per chord, one chord every 2 s, with a quiet sustained
 * root under each chord. It is rendered circularly — note tails that run past the end are added
 * at the start — so the loop point is seamless.
 */
export function generateDefaultHold(rate: number, seconds = 8): Int16Array {
  if (!Number.isInteger(rate) || rate < 4000 || rate > 384000)
    throw new RangeError(`generateDefaultHold: bad rate ${rate}`);
  const secs = Math.min(60, Math.max(1, Number.isFinite(seconds) ? seconds : 8));
  const len = Math.round(secs * rate);
  const mix = new Float64Array(len);
  const noteStep = 0.5; // s between arpeggio notes
  const notes = Math.max(1, Math.floor(secs / noteStep));
  const noteLen = Math.round(2.5 * rate);
  const attack = Math.round(0.015 * rate);
  for (let k = 0; k < notes; k++) {
    const chord = CHORDS[Math.floor(k / 4) % CHORDS.length] as number[]; // the modulo keeps the index in range
    const f = chord[[0, 2, 1, 3][k % 4] as number] as number; // every chord has four notes
    addTone(mix, Math.round(k * noteStep * rate), noteLen, attack, 1.6, f, rate, 1);
    if (k % 4 === 0) {
      // the chord's lowest note, quietly sustained for the whole chord: a pad that swells and fades
      const padLen = Math.round(Math.min(secs, 4 * noteStep) * rate);
      addTone(mix, Math.round(k * noteStep * rate), padLen, 0, 0, chord[0] as number, rate, 0.35);
    }
  }
  let sum = 0;
  let peak = 0;
  for (let i = 0; i < len; i++) {
    const v = mix[i] as number; // i < len = mix.length
    sum += v * v;
    peak = Math.max(peak, Math.abs(v));
  }
  const rms = Math.sqrt(sum / len) || 1;
  // Level to the RMS target, but never let a peak come near full scale.
  const scale = Math.min(HOLD_RMS / rms, (0.7 * 32767) / (peak || 1));
  const out = new Int16Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.round((mix[i] as number) * scale);
  return out;
}

/**
 * Adds one note into the circular buffer. decay > 0: raised-cosine attack of `attack` samples,
 * then exponential decay (rate per second); decay 0: a raised-cosine swell over the whole length.
 */
function addTone(
  mix: Float64Array,
  start: number,
  n: number,
  attack: number,
  decay: number,
  f: number,
  rate: number,
  level: number,
): void {
  const len = mix.length;
  const w = (2 * Math.PI * f) / rate;
  for (let i = 0; i < n; i++) {
    let env: number;
    if (decay === 0) env = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
    else {
      env = i < attack ? 0.5 - 0.5 * Math.cos((Math.PI * i) / attack) : Math.exp((-decay * (i - attack)) / rate);
      // close smoothly so the truncated tail does not click
      const tail = n - 1 - i;
      if (tail < attack) env *= tail / attack;
    }
    const phase = w * i;
    const v = Math.sin(phase) + 0.25 * Math.sin(2 * phase) + 0.08 * Math.sin(3 * phase);
    const at = (start + i) % len;
    mix[at] = (mix[at] as number) + level * env * v;
  }
}
