/**
 * G.711 μ-law codec (the encoding of Twilio Media Streams) driven by lookup tables.
 *
 * Both tables are built once at module load from the G.711 segment rules: a 256-entry decode
 * table and a 65536-entry encode table indexed by the raw 16-bit sample. The full-width encode
 * table (64 KiB) costs one load per sample and needs no shifting or sign handling, and it is
 * bit-exact with the classic reference coder (bias 0x84, clip 32635) for every input, which a
 * 14-bit table would not be near zero on the negative side.
 */

/** The μ-law byte for a zero sample: what a silent Twilio frame is filled with. */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
const CLIP = 32635;

function encodeOne(sample: number): number {
  let sign = 0;
  let mag = sample;
  if (mag < 0) {
    sign = 0x80;
    mag = -mag;
  }
  mag += BIAS;
  if (mag > CLIP) mag = CLIP;
  // The segment (exponent) is the position of the highest set bit above bit 7.
  let exponent = 7;
  for (let mask = 0x4000; (mag & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (mag >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function decodeOne(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const mag = (((mantissa << 3) + BIAS) << exponent) - BIAS;
  return (u & 0x80) !== 0 ? -mag : mag;
}

const DECODE = new Int16Array(256);
for (let i = 0; i < 256; i++) DECODE[i] = decodeOne(i);

/** Indexed by the sample's 16 bits as unsigned (sample & 0xffff). */
const ENCODE = new Uint8Array(65536);
for (let i = 0; i < 65536; i++) ENCODE[i] = encodeOne(i >= 32768 ? i - 65536 : i);

/**
 * Decodes μ-law bytes to PCM16. Writes into `dst` when given (it must hold at least
 * `src.length` samples; only that prefix is written) and returns it, else a new array.
 */
export function decodeMulaw(src: Uint8Array, dst?: Int16Array): Int16Array {
  const n = src.length;
  const out = dst ?? new Int16Array(n);
  if (out.length < n) throw new RangeError(`decodeMulaw: dst holds ${out.length} samples, need ${n}`);
  for (let i = 0; i < n; i++) out[i] = DECODE[src[i] as number] as number; // a byte indexes the 256-entry table
  return out;
}

/**
 * Encodes PCM16 samples to μ-law bytes. Writes into `dst` when given (at least `src.length`
 * bytes) and returns it, else a new array.
 */
export function encodeMulaw(src: Int16Array, dst?: Uint8Array): Uint8Array {
  const n = src.length;
  const out = dst ?? new Uint8Array(n);
  if (out.length < n) throw new RangeError(`encodeMulaw: dst holds ${out.length} bytes, need ${n}`);
  for (let i = 0; i < n; i++) out[i] = ENCODE[(src[i] as number) & 0xffff] as number; // 16 bits index the 65,536-entry table
  return out;
}
