/**
 * WAV (RIFF) reading and writing, for hold-music files, fixtures and recordings.
 *
 * Reading accepts PCM 16-bit, PCM 8-bit (unsigned), μ-law (format 7) and IEEE float 32-bit, also
 * wrapped in WAVE_FORMAT_EXTENSIBLE, any channel count (mixed down to mono by averaging).
 * Headers are checked strictly and every problem is a WavError naming it; a data chunk that
 * claims more bytes than the file holds (a recording cut short) is read up to the last whole
 * frame present.
 */

import { decodeMulaw } from './mulaw.js';

export class WavError extends Error {
  override readonly name = 'WavError';
}

export interface WavAudio {
  rate: number;
  channels: number;
  /** mono PCM16 (channels averaged) */
  samples: Int16Array;
}

const FMT_PCM = 1;
const FMT_FLOAT = 3;
const FMT_MULAW = 7;
const FMT_EXTENSIBLE = 0xfffe;
const MAX_CHANNELS = 32;

function tag(buf: Uint8Array, at: number): string {
  return String.fromCharCode(buf[at] ?? 0, buf[at + 1] ?? 0, buf[at + 2] ?? 0, buf[at + 3] ?? 0);
}

interface Fmt {
  format: number;
  channels: number;
  rate: number;
  blockAlign: number;
  bits: number;
}

function parseFmt(view: DataView, at: number, size: number): Fmt {
  if (size < 16) throw new WavError(`fmt chunk too short (${size} bytes)`);
  let format = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const rate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  if (format === FMT_EXTENSIBLE) {
    // cbSize(2) validBits(2) channelMask(4) then the sub-format GUID, whose first 2 bytes are the format
    if (size < 40) throw new WavError('WAVE_FORMAT_EXTENSIBLE fmt chunk too short');
    format = view.getUint16(at + 24, true);
  }
  if (channels < 1 || channels > MAX_CHANNELS) throw new WavError(`unsupported channel count ${channels}`);
  if (rate < 1000 || rate > 384000) throw new WavError(`unsupported sample rate ${rate}`);
  const ok =
    (format === FMT_PCM && (bits === 16 || bits === 8)) ||
    (format === FMT_MULAW && bits === 8) ||
    (format === FMT_FLOAT && bits === 32);
  if (!ok) throw new WavError(`unsupported encoding: format ${format} with ${bits} bits per sample`);
  if (blockAlign !== (bits / 8) * channels) {
    throw new WavError(`block align ${blockAlign} does not match ${channels} × ${bits}-bit samples`);
  }
  return { format, channels, rate, blockAlign, bits };
}

export function readWav(buf: Uint8Array): WavAudio {
  if (!(buf instanceof Uint8Array)) throw new WavError('input is not a byte array');
  if (buf.length < 12) throw new WavError('too short for a RIFF header');
  if (tag(buf, 0) !== 'RIFF') throw new WavError('not a RIFF file');
  if (tag(buf, 8) !== 'WAVE') throw new WavError('RIFF file is not WAVE');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let fmt: Fmt | null = null;
  let at = 12;
  while (at + 8 <= buf.length) {
    const id = tag(buf, at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    if (id === 'fmt ') {
      if (body + size > buf.length) throw new WavError('fmt chunk runs past the end of the file');
      fmt = parseFmt(view, body, size);
    } else if (id === 'data') {
      if (!fmt) throw new WavError('data chunk before fmt chunk');
      const avail = Math.min(size, buf.length - body);
      const frames = Math.floor(avail / fmt.blockAlign);
      return { rate: fmt.rate, channels: fmt.channels, samples: decode(buf, view, body, frames, fmt) };
    }
    at = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw new WavError(fmt ? 'no data chunk' : 'no fmt chunk');
}

function decode(buf: Uint8Array, view: DataView, at: number, frames: number, fmt: Fmt): Int16Array {
  const ch = fmt.channels;
  const out = new Int16Array(frames);
  const bytesPer = fmt.bits / 8;
  const mulaw = fmt.format === FMT_MULAW ? decodeMulaw(buf.subarray(at, at + frames * ch)) : null;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < ch; c++) {
      const i = f * ch + c;
      const p = at + i * bytesPer;
      if (mulaw) sum += mulaw[i] as number;
      else if (fmt.format === FMT_FLOAT) {
        const v = view.getFloat32(p, true);
        // NaN and out-of-range values become silence / full scale, never garbage.
        sum += Number.isNaN(v) ? 0 : Math.max(-1, Math.min(1, v)) * 32767;
      } else if (fmt.bits === 16) sum += view.getInt16(p, true);
      else sum += ((buf[p] as number) - 128) << 8;
    }
    out[f] = Math.max(-32768, Math.min(32767, Math.round(sum / ch)));
  }
  return out;
}

/** Encodes mono PCM16 as a canonical 44-byte-header WAV file. */
export function writeWav(samples: Int16Array, rate: number): Buffer {
  if (!Number.isInteger(rate) || rate < 1000 || rate > 384000) throw new WavError(`unsupported sample rate ${rate}`);
  const dataBytes = samples.length * 2;
  const out = Buffer.alloc(44 + dataBytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(FMT_PCM, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  for (const [i, s] of samples.entries()) out.writeInt16LE(s, 44 + i * 2);
  return out;
}
