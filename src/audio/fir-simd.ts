/**
 * WebAssembly SIMD kernel for the polyphase resampler.
 *
 * Why: the resampler's dot products dominate the audio CPU budget (two directions × 50 frames a
 * second × every call). Scalar JavaScript peaks near 1 ns per multiply-add on a typical server
 * core; 128-bit SIMD does four at once. The module is tiny, so it is assembled here from readable
 * opcodes instead of shipping an opaque binary.
 *
 * One instance (one linear memory) serves every resampler in the process: per-call state stays in
 * JavaScript and only the filter history is copied in and out. A memory per resampler would
 * reserve gigabytes of virtual address space each (wasm guard regions) and run out at a few
 * thousand calls.
 *
 * `run` computes, for one chunk of input:
 *   1. work[hist + i] = f32(in[i])            (PCM16 → float, after the carried history)
 *   2. while next < n: out[count++] = sat16(round(Σ coef[phase][k] · work[next + k]))
 *      and advance (phase, next) by down/up
 *   3. work[0 .. hist) = work[n .. n + hist)    (history for the next chunk)
 * and returns count. Coefficient rows are padded to a multiple of 4 taps (zeros on the oldest
 * side), so hist = taps − 1 with taps a multiple of 4.
 */

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function f32c(v: number): number[] {
  const b = new Uint8Array(new Float32Array([v]).buffer);
  return [0x43, ...b];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  return [...uleb(s.length), ...Buffer.from(s, 'latin1')];
}

// Opcodes used below.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const ADD = 0x6a,
  SUB = 0x6b,
  SHL = 0x74,
  AND = 0x71,
  EQZ = 0x45,
  GE_S = 0x4e;
const BLOCK = [0x02, 0x40],
  LOOP = [0x03, 0x40],
  IF = [0x04, 0x40],
  END = 0x0b;
const br = (d: number) => [0x0c, ...uleb(d)];
const brIf = (d: number) => [0x0d, ...uleb(d)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...uleb(op), ...imm];
const V_LOAD = (offset: number) => simd(0x00, 0, ...uleb(offset));
const F32X4_SPLAT = simd(0x13);
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const lane = (l: number) => simd(0x1f, l);
const V_STORE = (offset: number) => simd(0x0b, 0, ...uleb(offset));
const I32X4_LOAD16X4_S = simd(0x03, 0, 0);
const F32X4_CONVERT_I32X4_S = simd(0xfa);
const I32X4_TRUNC_SAT_F32X4_S = simd(0xf8);
const F32X4_NEAREST = simd(0x6a);
const F32X4_MIN = simd(0xe8);
const F32X4_MAX = simd(0xe9);
const i32Lane = (l: number) => simd(0x1b, l);
const STORE16 = (offset: number) => [0x3b, 0, ...uleb(offset)];

// Parameter and local indices.
const COEF = 0,
  TAPS4 = 1,
  UP = 2,
  DOWNQ = 3,
  DOWNR = 4,
  PHASE = 5,
  NEXT = 6,
  INP = 7,
  N = 8,
  WORK = 9,
  HIST = 10,
  OUT = 11,
  I = 12,
  COUNT = 13,
  C = 14,
  W = 15,
  K = 16,
  ACC0 = 17,
  ACC1 = 18,
  S = 19,
  STRIDE = 20;

const incr = (local: number, by: number) => [...get(local), ...i32c(by), ADD, ...set(local)];
/** acc += load(c + off) * load(w + off) */
const mac = (acc: number, off: number) => [
  ...get(acc),
  ...get(C),
  ...V_LOAD(off),
  ...get(W),
  ...V_LOAD(off),
  ...F32X4_MUL,
  ...F32X4_ADD,
  ...set(acc),
];

/**
 * Step 1 of both kernels, four samples at a time: work[hist + i] = f32(in[i]) for i < n. The last
 * group may read up to 3 samples past the input and write up to 3 floats past work[hist + n):
 * neither is ever read back as data, and the arena leaves room for both.
 */
function toFloat(work: number, hist: number, inp: number, n: number, c: number, w: number, i: number): number[] {
  return [
    ...get(work),
    ...get(hist),
    ...i32c(2),
    SHL,
    ADD,
    ...set(c),
    ...get(inp),
    ...set(w),
    ...i32c(0),
    ...set(i),
    ...BLOCK,
    ...LOOP,
    ...get(i),
    ...get(n),
    GE_S,
    ...brIf(1),
    ...get(c),
    ...get(w),
    ...I32X4_LOAD16X4_S,
    ...F32X4_CONVERT_I32X4_S,
    ...V_STORE(0),
    ...incr(c, 16),
    ...incr(w, 8),
    ...incr(i, 4),
    ...br(0),
    END,
    END,
  ];
}

function body(): number[] {
  const code = [
    ...toFloat(WORK, HIST, INP, N, C, W, I),
    // 2. one dot product per output sample
    ...get(TAPS4),
    ...i32c(4),
    SHL,
    ...set(STRIDE),
    ...i32c(0),
    ...set(COUNT),
    ...BLOCK,
    ...LOOP,
    ...get(NEXT),
    ...get(N),
    GE_S,
    ...brIf(1),
    ...get(COEF),
    ...get(PHASE),
    ...get(STRIDE),
    0x6c /* i32.mul */,
    ADD,
    ...set(C),
    ...get(WORK),
    ...get(NEXT),
    ...i32c(2),
    SHL,
    ADD,
    ...set(W),
    ...f32c(0),
    ...F32X4_SPLAT,
    ...set(ACC0),
    ...f32c(0),
    ...F32X4_SPLAT,
    ...set(ACC1),
    ...get(TAPS4),
    ...set(K),
    // odd group count: one step first, then pairs with two accumulators (hides add latency)
    ...get(K),
    ...i32c(1),
    AND,
    ...IF,
    ...mac(ACC0, 0),
    ...incr(C, 16),
    ...incr(W, 16),
    ...incr(K, -1),
    END,
    ...BLOCK,
    ...LOOP,
    ...get(K),
    EQZ,
    ...brIf(1),
    ...mac(ACC0, 0),
    ...mac(ACC1, 16),
    ...incr(C, 32),
    ...incr(W, 32),
    ...incr(K, -2),
    ...br(0),
    END,
    END,
    ...get(ACC0),
    ...get(ACC1),
    ...F32X4_ADD,
    ...set(ACC0),
    ...get(ACC0),
    ...lane(0),
    ...get(ACC0),
    ...lane(1),
    0x92,
    ...get(ACC0),
    ...lane(2),
    0x92,
    ...get(ACC0),
    ...lane(3),
    0x92,
    ...set(S),
    // out[count] = saturate(round(s))
    ...get(OUT),
    ...get(COUNT),
    ...i32c(1),
    SHL,
    ADD,
    ...get(S),
    0x90 /* f32.nearest */,
    ...f32c(32767),
    0x96 /* f32.min */,
    ...f32c(-32768),
    0x97 /* f32.max */,
    0xa8 /* i32.trunc_f32_s */,
    0x3b,
    0,
    0 /* i32.store16 */,
    ...incr(COUNT, 1),
    ...get(PHASE),
    ...get(DOWNR),
    ADD,
    ...set(PHASE),
    ...get(NEXT),
    ...get(DOWNQ),
    ADD,
    ...set(NEXT),
    ...get(PHASE),
    ...get(UP),
    GE_S,
    ...IF,
    ...get(PHASE),
    ...get(UP),
    SUB,
    ...set(PHASE),
    ...incr(NEXT, 1),
    END,
    ...br(0),
    END,
    END,
    // 3. carry the newest `hist` floats to the front
    ...get(WORK),
    ...get(WORK),
    ...get(N),
    ...i32c(2),
    SHL,
    ADD,
    ...get(HIST),
    ...i32c(2),
    SHL,
    0xfc,
    ...uleb(10),
    0,
    0 /* memory.copy */,
    ...get(COUNT),
    END,
  ];
  const locals = vec([
    [...uleb(5), I32],
    [...uleb(2), V128],
    [...uleb(1), F32],
    [...uleb(1), I32],
  ]);
  const fn = [...locals, ...code];
  return [...uleb(fn.length), ...fn];
}

/**
 * Interpolation by `up` (down = 1, phase 0 at the chunk start: always the case for 8k→16k/24k),
 * vectorised across outputs instead of across taps: lane j holds input position pos + j, so the
 * four lanes need four consecutive inputs (one unaligned load per tap, shared by all `up`
 * phases) and no horizontal sum. The coefficients come pre-splatted, tap-major:
 * coef[(k·up + p)·4 + lane] = phase p, tap k. Same rounding and saturation as `run`; only the
 * summation order differs (±1 LSB at most). Returns (n − next)·up.
 */
function interpBody(up: number): number[] {
  // params
  const COEF_ = 0,
    TAPS4_ = 1,
    INP_ = 2,
    N_ = 3,
    WORK_ = 4,
    HIST_ = 5,
    OUT_ = 6,
    NEXT_ = 7;
  // locals
  const I_ = 8,
    C_ = 9,
    W_ = 10,
    K_ = 11,
    POS_ = 12,
    O_ = 13,
    X_ = 14,
    HI_ = 15,
    LO_ = 16,
    ACC_ = 17;
  const code: number[] = [
    ...toFloat(WORK_, HIST_, INP_, N_, C_, W_, I_),
    ...f32c(32767),
    ...F32X4_SPLAT,
    ...set(HI_),
    ...f32c(-32768),
    ...F32X4_SPLAT,
    ...set(LO_),
    ...get(NEXT_),
    ...set(POS_),
    ...get(OUT_),
    ...set(O_),
    ...BLOCK,
    ...LOOP,
    ...get(POS_),
    ...get(N_),
    GE_S,
    ...brIf(1),
    ...get(WORK_),
    ...get(POS_),
    ...i32c(2),
    SHL,
    ADD,
    ...set(W_),
    ...get(COEF_),
    ...set(C_),
    ...get(TAPS4_),
    ...set(K_),
  ];
  for (let p = 0; p < up; p++) code.push(...f32c(0), ...F32X4_SPLAT, ...set(ACC_ + p));
  // four taps per iteration (taps is a multiple of 4)
  code.push(...LOOP);
  for (let t = 0; t < 4; t++) {
    code.push(...get(W_), ...V_LOAD(t * 4), ...set(X_));
    for (let p = 0; p < up; p++) {
      code.push(
        ...get(ACC_ + p),
        ...get(X_),
        ...get(C_),
        ...V_LOAD((t * up + p) * 16),
        ...F32X4_MUL,
        ...F32X4_ADD,
        ...set(ACC_ + p),
      );
    }
  }
  code.push(...incr(W_, 16), ...incr(C_, 4 * up * 16), ...incr(K_, -1), ...get(K_), ...brIf(0), END);
  for (let p = 0; p < up; p++) {
    code.push(
      ...get(ACC_ + p),
      ...F32X4_NEAREST,
      ...get(HI_),
      ...F32X4_MIN,
      ...get(LO_),
      ...F32X4_MAX,
      ...I32X4_TRUNC_SAT_F32X4_S,
      ...set(ACC_ + p),
    );
  }
  // out[(pos − next + j)·up + p] for the lanes still inside the chunk
  code.push(...BLOCK);
  for (let j = 0; j < 4; j++) {
    if (j > 0) code.push(...get(POS_), ...i32c(j), ADD, ...get(N_), GE_S, ...brIf(0));
    for (let p = 0; p < up; p++) code.push(...get(O_), ...get(ACC_ + p), ...i32Lane(j), ...STORE16((j * up + p) * 2));
  }
  code.push(END);
  code.push(...incr(O_, 4 * up * 2), ...incr(POS_, 4), ...br(0), END, END);
  // 3. history, as in `run`
  code.push(
    ...get(WORK_),
    ...get(WORK_),
    ...get(N_),
    ...i32c(2),
    SHL,
    ADD,
    ...get(HIST_),
    ...i32c(2),
    SHL,
    0xfc,
    ...uleb(10),
    0,
    0,
    ...get(N_),
    ...get(NEXT_),
    SUB,
    ...i32c(up),
    0x6c /* i32.mul */,
    END,
  );
  const locals = vec([
    [...uleb(6), I32],
    [...uleb(3 + up), V128],
  ]);
  const fn = [...locals, ...code];
  return [...uleb(fn.length), ...fn];
}

/** The `up` factors that get a vectorised interpolation kernel. */
export const INTERP_UPS = [2, 3] as const;

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const params = new Array<number>(12).fill(I32);
  const interpParams = new Array<number>(8).fill(I32);
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(
      1,
      vec([
        [0x60, ...uleb(params.length), ...params, 1, I32],
        [0x60, ...uleb(interpParams.length), ...interpParams, 1, I32],
      ]),
    ),
    ...section(3, vec([uleb(0), ...INTERP_UPS.map(() => uleb(1))])),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(
      7,
      vec([
        [...name('run'), 0x00, 0],
        [...name('memory'), 0x02, 0],
        ...INTERP_UPS.map((up, i) => [...name(`interp${up}`), 0x00, i + 1]),
      ]),
    ),
    ...section(10, vec([body(), ...INTERP_UPS.map((up) => interpBody(up))])),
  ];
  return new Uint8Array(bytes);
}

export type FirRun = (
  coef: number,
  taps4: number,
  up: number,
  downQ: number,
  downR: number,
  phase: number,
  next: number,
  inp: number,
  n: number,
  work: number,
  hist: number,
  out: number,
) => number;

export type FirInterp = (
  coef: number,
  taps4: number,
  inp: number,
  n: number,
  work: number,
  hist: number,
  out: number,
  next: number,
) => number;

export interface FirSimd {
  run: FirRun;
  /** by `up` factor (INTERP_UPS) */
  interp: Map<number, FirInterp>;
  memory: WebAssembly.Memory;
}

let cached: FirSimd | null | undefined;

/** The shared kernel, or null where WebAssembly SIMD is unavailable (callers fall back to JS). */
export function firSimd(): FirSimd | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = moduleBytes();
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const exports = instance.exports as unknown as Record<string, unknown>;
    const interp = new Map(INTERP_UPS.map((up) => [up as number, exports[`interp${up}`] as FirInterp]));
    cached = { run: exports.run as FirRun, interp, memory: exports.memory as WebAssembly.Memory };
  } catch {
    cached = null;
  }
  return cached;
}
