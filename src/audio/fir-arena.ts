/**
 * Memory management for the shared SIMD resampler kernel.
 *
 * Layout of the one linear memory: [coefficient tables …][scratch: work | input | output].
 * Coefficient tables are written once per distinct design and never move; the scratch area sits
 * after the last table and is reused by every call (JavaScript is single-threaded and `run` is
 * synchronous, so no two resamplers use it at once). Adding a table or growing the memory bumps
 * `generation`, telling resamplers to refresh their cached views.
 */

import { firSimd, type FirInterp, type FirRun } from './fir-simd.js';

/** Input samples handed to the kernel per call; longer inputs are processed in slices. */
export const CHUNK_IN = 4096;
/** Output samples the scratch area holds per call. */
export const CHUNK_OUT = 16384;
/** Cap on memory spent on coefficient tables; designs beyond it run on the JavaScript kernel. */
const MAX_TABLE_BYTES = 32 << 20;
const PAGE = 65536;

export interface Scratch {
  /** byte offsets */
  work: number;
  inp: number;
  out: number;
}

export class FirArena {
  readonly run: FirRun;
  /** vectorised interpolation kernels by `up` factor */
  readonly interp: ReadonlyMap<number, FirInterp>;
  private readonly memory: WebAssembly.Memory;
  f32: Float32Array;
  i16: Int16Array;
  generation = 0;
  scratch: Scratch = { work: 0, inp: 0, out: 0 };
  private tablesEnd = 0;
  private maxHist = 0;

  constructor(run: FirRun, interp: ReadonlyMap<number, FirInterp>, memory: WebAssembly.Memory) {
    this.run = run;
    this.interp = interp;
    this.memory = memory;
    this.f32 = new Float32Array(memory.buffer);
    this.i16 = new Int16Array(memory.buffer);
    this.layout();
  }

  /** Copies a coefficient table in; returns its byte offset, or -1 when the cap is reached. */
  addTable(coef: Float32Array, taps: number): number {
    const bytes = coef.length * 4;
    if (this.tablesEnd + bytes > MAX_TABLE_BYTES) return -1;
    const at = this.tablesEnd;
    this.tablesEnd = align16(at + bytes);
    this.maxHist = Math.max(this.maxHist, taps - 1);
    this.layout();
    this.f32.set(coef, at >> 2);
    return at;
  }

  private layout(): void {
    const work = this.tablesEnd;
    // +4 floats: the kernels convert input in groups of four and may write 3 floats past it
    const inp = align16(work + (this.maxHist + CHUNK_IN + 4) * 4);
    const out = align16(inp + CHUNK_IN * 2);
    const end = out + CHUNK_OUT * 2;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      this.memory.grow(Math.ceil((end - have) / PAGE));
      this.f32 = new Float32Array(this.memory.buffer);
      this.i16 = new Int16Array(this.memory.buffer);
    }
    this.scratch = { work, inp, out };
    this.generation++;
  }
}

function align16(n: number): number {
  return (n + 15) & ~15;
}

let shared: FirArena | null | undefined;

/** The process-wide arena, or null where WebAssembly SIMD is unavailable. */
export function firArena(): FirArena | null {
  if (shared === undefined) {
    const k = firSimd();
    shared = k ? new FirArena(k.run, k.interp, k.memory) : null;
  }
  return shared;
}
