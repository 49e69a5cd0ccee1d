/**
 * G.711 μ-law codec (the encoding of Twilio Media Streams) driven by lookup tables.
 *
 * Both tables are built once at module load from the G.711 segment rules: a 256-entry decode
 * table and a 65536-entry encode table indexed by the raw 16-bit sample. The full-width encode
 * table (64 KiB) costs one load per sample and needs no shifting or sign handling, and it is
 * bit-exact with the classic reference coder (bias 0x84, clip 32635) for every input, which a
 * 14-bit table would not be near zero on the negative side.
 */

import { g711Tables } from './g711-table.js';

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

const TABLES = g711Tables('Mulaw', encodeOne, decodeOne);

/** Decodes μ-law bytes to PCM16, into `dst` when given (at least `src.length` samples; only that prefix is written). */
export const decodeMulaw: (src: Uint8Array, dst?: Int16Array) => Int16Array = TABLES.decode;

/** Encodes PCM16 samples to μ-law bytes, into `dst` when given (at least `src.length` bytes). */
export const encodeMulaw: (src: Int16Array, dst?: Uint8Array) => Uint8Array = TABLES.encode;
