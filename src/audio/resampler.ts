/**
 * Stateful streaming sample-rate converter for PCM16 mono.
 *
 * Rational polyphase FIR (see resampler-design.ts): each output sample is one short dot product
 * over the newest inputs, and the last taps−1 inputs are carried from call to call, so a stream
 * cut into 20 ms frames gives exactly the output of the whole stream in one block. Resampling
 * each chunk from a cold start instead is what makes naive bridges click and hiss at every frame.
 *
 * The dot products run on a shared WebAssembly SIMD kernel (fir-simd.ts); where that is not
 * available, or the table cap is reached, an equivalent JavaScript loop does the same work.
 */

import { CHUNK_IN, CHUNK_OUT, firArena, type FirArena } from './fir-arena.js';
import type { FirInterp } from './fir-simd.js';
import { designPolyphase, type PolyphaseDesign, type ResamplerQuality } from './resampler-design.js';

export type { ResamplerQuality } from './resampler-design.js';

export interface ResamplerOptions {
  quality?: ResamplerQuality;
  /** Force the portable JavaScript kernel ('js'); for tests and comparison. Default 'auto'. */
  kernel?: 'auto' | 'js';
}

const MIN_RATE = 1000;
const MAX_RATE = 384000;
const MAX_CACHED_DESIGNS = 64;

interface CachedDesign extends PolyphaseDesign {
  /** byte offset of the table in the SIMD arena, -1 when not loaded there */
  simdAt: number;
  /** byte offset of the pre-splatted table for the interpolation kernel, -1 when there is none */
  interpAt: number;
  /** the table widened to float64 for the JavaScript kernel, made on first use */
  coef64?: Float64Array;
}

/** Designs are pure functions of (ratio, quality): shared by every call with the same rates. */
const designs = new Map<string, CachedDesign>();

function getDesign(inRate: number, outRate: number, quality: ResamplerQuality, arena: FirArena | null): CachedDesign {
  const key = `${inRate}/${outRate}/${quality}`;
  const hit = designs.get(key);
  if (hit) {
    // A design first made for the JavaScript kernel gets its SIMD tables on first SIMD use.
    if (arena && hit.simdAt < 0) loadTables(hit, arena);
    return hit;
  }
  const d: CachedDesign = { ...designPolyphase(inRate, outRate, quality), simdAt: -1, interpAt: -1 };
  // Past the cache bound a design lives only as long as its resampler, on the JavaScript
  // kernel: the SIMD arena only holds tables that are shared and kept.
  if (designs.size >= MAX_CACHED_DESIGNS) return d;
  designs.set(key, d);
  if (arena) loadTables(d, arena);
  return d;
}

function loadTables(d: CachedDesign, arena: FirArena): void {
  d.simdAt = arena.addTable(d.coef, d.taps);
  if (d.simdAt < 0 || d.down !== 1 || !arena.interp.has(d.up)) return;
  // tap-major, each coefficient four times: splat[(k·up + p)·4 + lane] = phase p, tap k
  const splat = new Float32Array(d.taps * d.up * 4);
  for (let k = 0; k < d.taps; k++) {
    for (let p = 0; p < d.up; p++) splat.fill(d.coef[p * d.taps + k]!, (k * d.up + p) * 4, (k * d.up + p) * 4 + 4);
  }
  d.interpAt = arena.addTable(splat, d.taps);
}

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_RATE || rate > MAX_RATE) {
    throw new RangeError(`StreamResampler: ${name} must be an integer in ${MIN_RATE}..${MAX_RATE}, got ${rate}`);
  }
}

export class StreamResampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Group delay of the filter in output samples (an integer for the telephony ratios). */
  readonly latencySamples: number;

  private readonly design: CachedDesign | null;
  private readonly arena: FirArena | null;
  /** the vectorised interpolation kernel for this design, if it has one */
  private readonly interp: FirInterp | undefined;
  private readonly downQ: number;
  private readonly downR: number;
  private readonly sliceIn: number;
  /** the newest taps−1 inputs of the stream so far */
  private readonly hist: Float32Array;
  /** JavaScript kernel only: [history | current input] */
  private work: Float64Array;
  private out: Int16Array;
  private view: Int16Array;
  private phase = 0;
  /** index, relative to the next chunk, of the newest input the next output needs */
  private next = 0;
  // Views into the arena, refreshed when its generation changes.
  private gen = -1;
  private histView: Float32Array | null = null;
  private outView: Int16Array | null = null;

  constructor(inRate: number, outRate: number, opts: ResamplerOptions = {}) {
    checkRate('inRate', inRate);
    checkRate('outRate', outRate);
    this.inRate = inRate;
    this.outRate = outRate;
    if (inRate === outRate) {
      this.design = null;
      this.arena = null;
      this.latencySamples = 0;
    } else {
      const arena = opts.kernel === 'js' ? null : firArena();
      this.design = getDesign(inRate, outRate, opts.quality ?? 'high', arena);
      this.arena = this.design.simdAt >= 0 ? arena : null;
      this.interp = this.arena && this.design.interpAt >= 0 ? this.arena.interp.get(this.design.up) : undefined;
      this.latencySamples = this.design.centre / this.design.down;
    }
    const up = this.design?.up ?? 1;
    const down = this.design?.down ?? 1;
    this.downQ = Math.floor(down / up);
    this.downR = down % up;
    this.sliceIn = Math.min(CHUNK_IN, Math.floor(((CHUNK_OUT - 2) * down) / up));
    const hist = (this.design?.taps ?? 1) - 1;
    this.hist = new Float32Array(hist);
    this.work = new Float64Array(this.arena || !this.design ? 0 : hist + 960);
    this.out = new Int16Array(this.maxOut(960));
    this.view = this.out.subarray(0, 0);
  }

  /**
   * Converts the next chunk of the stream. The input is never modified.
   *
   * Returns a view into a buffer owned by this resampler, valid only until the next `process` or
   * `reset` call: copy it to keep it. Over a whole stream the output count is
   * ceil(totalIn · outRate / inRate) exactly, so the two clocks never drift apart.
   */
  process(input: Int16Array): Int16Array {
    const n = input.length;
    if (this.out.length < this.maxOut(n)) this.out = new Int16Array(this.maxOut(n) * 2);
    if (!this.design) {
      this.out.set(input);
      return this.viewOf(n);
    }
    let produced = 0;
    for (let offset = 0; offset < n; offset += this.sliceIn) {
      const len = Math.min(this.sliceIn, n - offset);
      const slice = len === n ? input : input.subarray(offset, offset + len);
      produced += this.arena ? this.runSimd(this.arena, slice, produced) : this.runJs(slice, produced);
    }
    return this.viewOf(produced);
  }

  /** Forgets all history: the next chunk starts a new stream. */
  reset(): void {
    this.hist.fill(0);
    this.work.fill(0);
    this.phase = 0;
    this.next = 0;
  }

  private maxOut(n: number): number {
    const d = this.design;
    return d ? Math.ceil((n * d.up) / d.down) + 1 : n;
  }

  private runSimd(arena: FirArena, input: Int16Array, at: number): number {
    const d = this.design!;
    const s = arena.scratch;
    const histLen = this.hist.length;
    if (this.gen !== arena.generation || !this.histView) {
      this.histView = arena.f32.subarray(s.work >> 2, (s.work >> 2) + histLen);
      this.outView = null;
      this.gen = arena.generation;
    }
    this.histView.set(this.hist);
    arena.i16.set(input, s.inp >> 1);
    const n = input.length;
    // Interpolation starts every chunk at phase 0: the vectorised kernel takes it from there.
    const count =
      this.interp && this.phase === 0 && this.next === 0
        ? this.interp(d.interpAt, d.taps >> 2, s.inp, n, s.work, histLen, s.out, 0)
        : arena.run(
            d.simdAt,
            d.taps >> 2,
            d.up,
            this.downQ,
            this.downR,
            this.phase,
            this.next,
            s.inp,
            n,
            s.work,
            histLen,
            s.out,
          );
    this.hist.set(this.histView);
    if (!this.outView || this.outView.length !== count) {
      this.outView = arena.i16.subarray(s.out >> 1, (s.out >> 1) + count);
    }
    this.out.set(this.outView, at);
    this.advance(count, n);
    return count;
  }

  private runJs(input: Int16Array, at: number): number {
    const d = this.design!;
    const hist = this.hist.length;
    const n = input.length;
    if (this.work.length < hist + n) this.work = new Float64Array(hist + n * 2);
    const work = this.work;
    work.set(this.hist);
    for (let i = 0; i < n; i++) work[hist + i] = input[i] as number;
    const coef = (d.coef64 ??= Float64Array.from(d.coef));
    const { taps, up } = d;
    const out = this.out;
    const downQ = this.downQ;
    const downR = this.downR;
    let phase = this.phase;
    let next = this.next;
    let count = 0;
    while (next < n) {
      // Output needs inputs next−taps+1 .. next, which sit at work[next .. next+taps−1].
      const c0 = phase * taps;
      let a0 = 0;
      let a1 = 0;
      for (let k = 0; k < taps; k += 2) {
        a0 += (coef[c0 + k] as number) * (work[next + k] as number);
        a1 += (coef[c0 + k + 1] as number) * (work[next + k + 1] as number);
      }
      let v = Math.round(a0 + a1);
      if (v > 32767) v = 32767;
      else if (v < -32768) v = -32768;
      out[at + count++] = v;
      phase += downR;
      next += downQ;
      if (phase >= up) {
        phase -= up;
        next++;
      }
    }
    for (let i = 0; i < hist; i++) this.hist[i] = work[n + i] as number;
    this.advance(count, n);
    return count;
  }

  /** Moves (phase, next) past `count` outputs and rebases `next` on the following chunk. */
  private advance(count: number, n: number): void {
    const up = this.design!.up;
    const p = this.phase + count * this.downR;
    this.next += count * this.downQ + Math.floor(p / up) - n;
    this.phase = p % up;
  }

  private viewOf(len: number): Int16Array {
    // Reuse the previous view when the length repeats (the usual 20 ms case): no allocation.
    if (this.view.buffer !== this.out.buffer || this.view.length !== len) this.view = this.out.subarray(0, len);
    return this.view;
  }
}
