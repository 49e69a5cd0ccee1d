/**
 * G.711 A-law codec (PCMA, the other codec of SIP trunks) driven by lookup tables, like mulaw.ts:
 * a 256-entry decode table and a 65536-entry encode table indexed by the raw 16-bit sample, both
 * built at module load from the G.711 segment rules (even bits inverted: XOR 0x55).
 */

import { g711Tables } from './g711-table.js';

/** The A-law byte for a zero sample (the positive code of the smallest magnitude). */
export const ALAW_SILENCE = 0xd5;

/** Upper bound of each segment, in 13-bit magnitude units. */
const SEG_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

function encodeOne(sample: number): number {
  let v = sample >> 3; // 13-bit
  let mask: number;
  if (v >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    v = -v - 1;
  }
  let seg = 0;
  while (seg < 8 && v > SEG_END[seg]!) seg++;
  if (seg >= 8) return 0x7f ^ mask; // clipped to the largest magnitude
  const mantissa = seg < 2 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
  return ((seg << 4) | mantissa) ^ mask;
}

function decodeOne(byte: number): number {
  const a = byte ^ 0x55;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (seg === 0) t += 8;
  else t = (t + 0x108) << (seg - 1);
  return (a & 0x80) !== 0 ? t : -t;
}

const TABLES = g711Tables('Alaw', encodeOne, decodeOne);

/** Decodes A-law bytes to PCM16, into `dst` when given (at least `src.length` samples; only that prefix is written). */
export const decodeAlaw: (src: Uint8Array, dst?: Int16Array) => Int16Array = TABLES.decode;

/** Encodes PCM16 samples to A-law bytes, into `dst` when given (at least `src.length` bytes). */
export const encodeAlaw: (src: Int16Array, dst?: Uint8Array) => Uint8Array = TABLES.encode;
