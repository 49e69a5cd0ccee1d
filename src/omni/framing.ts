/**
 * Tagged framing (§2 of the protocol): every binary message starts with one tag byte. This module
 * turns bytes into typed messages and back; it never throws on input from the wire.
 */
import { endianness } from 'node:os';
import type { ClientFrame } from './client-frames.js';
import { type OmniEvent, parseServerEvent, parseTranscriptPayload } from './events.js';

export const TAG_AUDIO = 0x01;
export const TAG_TRANSCRIPT = 0x02;
export const TAG_CONTROL = 0x03;

/** PCM16LE on the wire; on a big-endian host every sample must be swapped on the way in and out. */
const HOST_IS_LE = endianness() === 'LE';

export type DecodedMessage =
  | {
      kind: 'audio';
      /** Samples at the session's output rate. May view the message buffer: do not write to it. */
      pcm: Int16Array;
      /** 1 when the payload had an odd length and its trailing byte was dropped. */
      droppedBytes?: number;
    }
  | { kind: 'event'; event: OmniEvent }
  | { kind: 'ignored'; reason: string };

/**
 * `0x01` + PCM16LE. One allocation for the frame (small frames come from Node's buffer pool); the
 * samples are copied byte-wise because the payload starts at an odd offset.
 */
export function encodeAudioFrame(pcm: Int16Array): Buffer {
  const frame = Buffer.allocUnsafe(1 + pcm.byteLength);
  frame[0] = TAG_AUDIO;
  if (HOST_IS_LE) {
    frame.set(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), 1);
  } else {
    for (let i = 0; i < pcm.length; i++) frame.writeInt16LE(pcm[i] as number, 1 + 2 * i);
  }
  return frame;
}

/** `0x03` + the frame's JSON. Frames are built by client-frames.ts, so they are keyed on `type`. */
export function encodeControl(frame: ClientFrame): Buffer {
  // U+0003 encodes to the single byte 0x03 in UTF-8: tag and JSON in one allocation.
  return Buffer.from('\u0003' + JSON.stringify(frame), 'utf8');
}

/**
 * A reusable array for audio that has to be copied. It grows to the largest frame seen, up to
 * `maxSamples`; bigger frames get an array of their own. What `take` returns is valid until the
 * next `take`.
 */
export class PcmScratch {
  private buf = new Int16Array(0);

  constructor(readonly maxSamples: number) {}

  take(samples: number): Int16Array {
    if (samples <= this.buf.length) return this.buf.subarray(0, samples);
    if (samples > this.maxSamples) return new Int16Array(samples);
    this.buf = new Int16Array(samples);
    return this.buf;
  }
}

/**
 * Reads the PCM16LE payload of an audio frame starting at `offset`. Zero-copy when the payload is
 * 2-byte aligned in memory, otherwise one copy — into `scratch` when one is given.
 * (ws hands out a view of the socket read at the frame's offset, and behind a 4-byte header the
 * samples start one byte after the tag: odd, so most frames are copied. A fresh 960-byte array
 * is an off-heap allocation, ~0.55 µs more per frame than reusing one.)
 */
export function readPcm16(
  data: Buffer,
  offset: number,
  scratch?: PcmScratch,
): { pcm: Int16Array; droppedBytes: number } {
  const byteLength = data.length - offset;
  const droppedBytes = byteLength & 1;
  const samples = (byteLength - droppedBytes) >> 1;
  const start = data.byteOffset + offset;
  if (HOST_IS_LE && (start & 1) === 0) {
    return { pcm: new Int16Array(data.buffer, start, samples), droppedBytes };
  }
  const pcm = scratch !== undefined ? scratch.take(samples) : new Int16Array(samples);
  if (HOST_IS_LE) {
    new Uint8Array(pcm.buffer, pcm.byteOffset, samples * 2).set(data.subarray(offset, offset + samples * 2));
  } else {
    for (let i = 0; i < samples; i++) pcm[i] = data.readInt16LE(offset + 2 * i);
  }
  return { pcm, droppedBytes };
}

/**
 * Agent audio is a byte stream cut into messages anywhere, even inside a sample (§3.4): a trailing
 * odd byte waits here for the next audio message instead of being dropped, which would shift every
 * later sample by one byte — full-scale noise. `reset` forgets it (a barge-in restarts the audio).
 */
export class AudioReassembler {
  private carry = -1;

  /** true while one byte of a split sample is waiting */
  get pending(): boolean {
    return this.carry >= 0;
  }

  reset(): void {
    this.carry = -1;
  }

  /** The whole samples of `data[offset..]` after the byte carried from before; may be empty. */
  read(data: Buffer, offset: number, scratch?: PcmScratch): Int16Array {
    const len = data.length - offset;
    if (this.carry < 0 && (len & 1) === 0) return readPcm16(data, offset, scratch).pcm;
    const carried = this.carry >= 0 ? 1 : 0;
    const total = carried + len;
    const samples = total >> 1;
    const pcm = scratch !== undefined ? scratch.take(samples) : new Int16Array(samples);
    const bytes = new Uint8Array(pcm.buffer, pcm.byteOffset, samples * 2);
    if (samples > 0) {
      if (carried) bytes[0] = this.carry;
      bytes.set(data.subarray(offset, offset + samples * 2 - carried), carried);
      if (!HOST_IS_LE) for (let i = 0; i < samples; i++) pcm[i] = ((pcm[i]! & 0xff) << 8) | ((pcm[i]! >> 8) & 0xff);
    }
    // What is left is at most one byte: the first half of the next sample.
    this.carry = total & 1 ? data[data.length - 1]! : -1;
    return pcm;
  }
}

function parseControlJson(text: string): DecodedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'ignored', reason: 'invalid JSON in control message' };
  }
  const result = parseServerEvent(value);
  return result.ok ? { kind: 'event', event: result.event } : { kind: 'ignored', reason: result.reason };
}

/**
 * Decodes one server message. Text messages are legacy control JSON. With `scratch`, audio that
 * has to be copied lands there: the samples are then valid only until the next call.
 */
export function decodeServerMessage(
  data: Buffer,
  isBinary: boolean,
  scratch?: PcmScratch,
  audio?: AudioReassembler,
): DecodedMessage {
  if (!isBinary) return parseControlJson(data.toString('utf8'));
  const tag = data[0];
  if (tag === undefined) return { kind: 'ignored', reason: 'empty binary message' };
  if (tag === TAG_AUDIO && audio !== undefined) {
    if (data.length === 1) return { kind: 'ignored', reason: 'audio frame without samples' };
    return { kind: 'audio', pcm: audio.read(data, 1, scratch) };
  }
  if (tag === TAG_AUDIO) {
    const { pcm, droppedBytes } = readPcm16(data, 1, scratch);
    if (pcm.length === 0) return { kind: 'ignored', reason: 'audio frame without samples' };
    return droppedBytes ? { kind: 'audio', pcm, droppedBytes } : { kind: 'audio', pcm };
  }
  if (tag === TAG_CONTROL) return parseControlJson(data.toString('utf8', 1));
  if (tag === TAG_TRANSCRIPT) {
    const result = parseTranscriptPayload(data.toString('utf8', 1));
    return result.ok ? { kind: 'event', event: result.event } : { kind: 'ignored', reason: result.reason };
  }
  return { kind: 'ignored', reason: `unknown tag 0x${tag.toString(16).padStart(2, '0')}` };
}
