import { describe, expect, it } from 'vitest';
import {
  PcmScratch,
  TAG_AUDIO,
  TAG_CONTROL,
  TAG_TRANSCRIPT,
  decodeServerMessage,
  encodeAudioFrame,
  encodeControl,
  readPcm16,
} from '../../../src/omni/framing.js';
import { configureFrame, dtmfFrame, sessionEndingFrame } from '../../../src/omni/events.js';

function control(obj: unknown): Buffer {
  return Buffer.concat([Buffer.from([TAG_CONTROL]), Buffer.from(JSON.stringify(obj))]);
}

describe('encodeAudioFrame', () => {
  it('prefixes tag 0x01 and writes PCM16 little-endian', () => {
    const frame = encodeAudioFrame(new Int16Array([1, -2, 0x1234, -32768]));
    expect(frame[0]).toBe(TAG_AUDIO);
    expect(frame.length).toBe(9);
    expect(frame.readInt16LE(1)).toBe(1);
    expect(frame.readInt16LE(3)).toBe(-2);
    expect(frame.readInt16LE(5)).toBe(0x1234);
    expect(frame.readInt16LE(7)).toBe(-32768);
  });

  it('encodes a view into a larger buffer from its own offset', () => {
    const big = new Int16Array([9, 9, 7, 8, 9]);
    const frame = encodeAudioFrame(big.subarray(2, 4));
    expect([...frame]).toEqual([1, 7, 0, 8, 0]);
  });
});

describe('encodeControl', () => {
  it('prefixes tag 0x03 and serialises the frame keyed on type', () => {
    const frame = encodeControl(dtmfFrame('5'));
    expect(frame[0]).toBe(TAG_CONTROL);
    expect(JSON.parse(frame.subarray(1).toString())).toEqual({ type: 'dtmf', digit: '5' });
  });

  it('never writes an event key', () => {
    const sneaky = { persona: 'p', event: 'configure', greeting: 'hi' } as unknown as Parameters<
      typeof configureFrame
    >[0];
    const json = JSON.parse(encodeControl(configureFrame(sneaky)).subarray(1).toString());
    expect(json).toEqual({ type: 'configure', persona: 'p', greeting: 'hi' });
    expect(JSON.parse(encodeControl(sessionEndingFrame()).subarray(1).toString())).toEqual({ type: 'session_ending' });
  });
});

describe('decodeServerMessage', () => {
  it('decodes audio round-trip', () => {
    const pcm = new Int16Array([100, -100, 32767]);
    const msg = decodeServerMessage(encodeAudioFrame(pcm), true);
    expect(msg.kind).toBe('audio');
    if (msg.kind === 'audio') {
      expect([...msg.pcm]).toEqual([100, -100, 32767]);
      expect(msg.droppedBytes).toBeUndefined();
    }
  });

  it('copies audio whose payload sits at an odd memory offset', () => {
    const backing = Buffer.alloc(16);
    const frame = backing.subarray(2, 2 + 5); // payload starts at byteOffset 3: unaligned
    frame[0] = TAG_AUDIO;
    frame.writeInt16LE(-5, 1);
    frame.writeInt16LE(300, 3);
    const msg = decodeServerMessage(frame, true);
    expect(msg.kind === 'audio' && [...msg.pcm]).toEqual([-5, 300]);
  });

  it('drops a trailing odd byte of audio and reports it', () => {
    const frame = Buffer.from([TAG_AUDIO, 0x10, 0x00, 0x20, 0x00, 0x7f]);
    const msg = decodeServerMessage(frame, true);
    expect(msg.kind).toBe('audio');
    if (msg.kind === 'audio') {
      expect([...msg.pcm]).toEqual([16, 32]);
      expect(msg.droppedBytes).toBe(1);
    }
  });

  it('ignores an audio frame with no whole sample', () => {
    expect(decodeServerMessage(Buffer.from([TAG_AUDIO, 0x01]), true).kind).toBe('ignored');
    expect(decodeServerMessage(Buffer.from([TAG_AUDIO]), true).kind).toBe('ignored');
  });

  it('ignores unknown tags and empty messages with a reason', () => {
    const msg = decodeServerMessage(Buffer.from([0x7e, 1, 2]), true);
    expect(msg).toEqual({ kind: 'ignored', reason: 'unknown tag 0x7e' });
    expect(decodeServerMessage(Buffer.alloc(0), true).kind).toBe('ignored');
    expect(decodeServerMessage(Buffer.from([0x00, 0, 0]), true).kind).toBe('ignored');
  });

  it('parses 0x03 control JSON keyed on event', () => {
    const msg = decodeServerMessage(control({ event: 'flush' }), true);
    expect(msg).toEqual({ kind: 'event', event: { type: 'barge_in' } });
  });

  it('ignores invalid JSON instead of throwing', () => {
    const bad = Buffer.concat([Buffer.from([TAG_CONTROL]), Buffer.from('{"event": "hello",')]);
    const msg = decodeServerMessage(bad, true);
    expect(msg.kind).toBe('ignored');
    expect(msg.kind === 'ignored' && msg.reason).toMatch(/invalid JSON/);
    expect(decodeServerMessage(Buffer.from([TAG_CONTROL, 0xff, 0xfe]), true).kind).toBe('ignored');
  });

  it('parses text messages as legacy control JSON', () => {
    const msg = decodeServerMessage(Buffer.from('{"event":"session_end"}'), false);
    expect(msg).toEqual({ kind: 'event', event: { type: 'session_end' } });
    expect(decodeServerMessage(Buffer.from('hello there'), false).kind).toBe('ignored');
  });

  it('reads raw 0x02 text as a caller partial', () => {
    const frame = Buffer.concat([Buffer.from([TAG_TRANSCRIPT]), Buffer.from('I want to', 'utf8')]);
    expect(decodeServerMessage(frame, true)).toEqual({
      kind: 'event',
      event: { type: 'transcript', role: 'user', text: 'I want to', final: false },
    });
  });

  it('reads 0x02 JSON as a transcript', () => {
    const frame = Buffer.concat([
      Buffer.from([TAG_TRANSCRIPT]),
      Buffer.from(JSON.stringify({ speaker: 'agent', text: 'Hi', is_final: true })),
    ]);
    expect(decodeServerMessage(frame, true)).toEqual({
      kind: 'event',
      event: { type: 'transcript', role: 'assistant', text: 'Hi', final: true },
    });
  });

  it('treats 0x02 text that only looks like JSON as raw text', () => {
    const frame = Buffer.concat([Buffer.from([TAG_TRANSCRIPT]), Buffer.from('{not json')]);
    const msg = decodeServerMessage(frame, true);
    expect(msg.kind === 'event' && msg.event).toEqual({
      type: 'transcript',
      role: 'user',
      text: '{not json',
      final: false,
    });
  });
});

describe('readPcm16', () => {
  it('views aligned payloads without copying', () => {
    const buf = Buffer.alloc(9);
    const { pcm } = readPcm16(buf.subarray(1), 1);
    expect(pcm.buffer).toBe(buf.buffer);
  });

  it('copies a misaligned payload into the scratch array when one is given, exactly, and reuses it', () => {
    const samples = [1, -2, 32767, -32768, 258];
    const frame = Buffer.alloc(1 + 2 * samples.length); // unpooled: starts at byteOffset 0
    samples.forEach((v, i) => frame.writeInt16LE(v, 1 + 2 * i)); // behind the tag: odd in memory
    const scratch = new PcmScratch(16);
    const first = readPcm16(frame, 1, scratch);
    expect(Array.from(first.pcm)).toEqual(samples);
    expect(first.droppedBytes).toBe(0);
    const shorter = Buffer.alloc(1 + 4);
    shorter.writeInt16LE(-9, 1);
    shorter.writeInt16LE(9, 3);
    const second = readPcm16(shorter, 1, scratch);
    expect(second.pcm.buffer).toBe(first.pcm.buffer); // the same memory, not a new array
    expect(Array.from(second.pcm)).toEqual([-9, 9]);
  });

  it('gives a frame over the scratch limit an array of its own and keeps the scratch as it was', () => {
    const frame = Buffer.alloc(1 + 2 * 8);
    for (let i = 0; i < 8; i++) frame.writeInt16LE(100 * i, 1 + 2 * i);
    const scratch = new PcmScratch(4);
    const small = scratch.take(4);
    small.fill(7);
    const { pcm } = readPcm16(frame, 1, scratch);
    expect(pcm.buffer).not.toBe(small.buffer);
    expect(Array.from(pcm)).toEqual([0, 100, 200, 300, 400, 500, 600, 700]);
    expect(Array.from(scratch.take(4))).toEqual([7, 7, 7, 7]);
  });

  it('decodeServerMessage puts misaligned audio in the scratch array', () => {
    const frame = Buffer.alloc(1 + 4);
    frame[0] = TAG_AUDIO;
    frame.writeInt16LE(-5, 1);
    frame.writeInt16LE(9, 3);
    const scratch = new PcmScratch(8);
    const msg = decodeServerMessage(frame, true, scratch);
    expect(msg.kind).toBe('audio');
    if (msg.kind !== 'audio') return;
    expect(msg.pcm.buffer).toBe(scratch.take(2).buffer);
    expect(Array.from(msg.pcm)).toEqual([-5, 9]);
  });
});
