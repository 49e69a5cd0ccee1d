import { describe, expect, it } from 'vitest';
import { StreamPlayback } from '../../../src/sim/twilio/playback.js';

const tone = (n: number) => new Int16Array(n).fill(1000);

describe('simulator playback buffer (Twilio outbound semantics)', () => {
  it('echoes a mark at once when nothing is buffered', () => {
    const p = new StreamPlayback();
    expect(p.mark('m0')).toBe(true);
  });

  it('echoes a mark on the tick that plays the audio queued before it', () => {
    const p = new StreamPlayback();
    p.push(tone(400));
    expect(p.mark('m1')).toBe(false);
    const echoed: string[] = [];
    const frame = new Int16Array(160);
    expect(p.tick(frame, (n) => echoed.push(n))).toBe(160);
    expect(p.tick(frame, (n) => echoed.push(n))).toBe(160);
    expect(echoed).toEqual([]);
    expect(p.tick(frame, (n) => echoed.push(n))).toBe(80);
    expect(echoed).toEqual(['m1']);
    expect(frame[79]).toBe(1000);
    expect(frame[80]).toBe(0); // padded with silence
  });

  it('keeps mark order when a mark arrives while earlier ones wait for the next tick', () => {
    const p = new StreamPlayback();
    p.push(tone(160));
    p.mark('a');
    const echoed: string[] = [];
    p.tick(new Int16Array(160), (n) => echoed.push(n));
    expect(echoed).toEqual(['a']);
    p.push(tone(10));
    p.mark('b');
    expect(p.mark('c')).toBe(false);
    p.tick(new Int16Array(160), (n) => echoed.push(n));
    expect(echoed).toEqual(['a', 'b', 'c']);
  });

  it('clear drops the buffer and returns every pending mark in order', () => {
    const p = new StreamPlayback();
    p.push(tone(8000));
    p.mark('x');
    p.push(tone(8000));
    p.mark('y');
    p.tick(new Int16Array(160), () => {});
    const { droppedSamples, marks } = p.clear();
    expect(droppedSamples).toBe(16000 - 160);
    expect(marks).toEqual(['x', 'y']);
    expect(p.bufferedSamples).toBe(0);
    expect(p.mark('z')).toBe(true);
    const frame = new Int16Array(160).fill(7);
    expect(p.tick(frame, () => {})).toBe(0);
    expect(frame.every((v) => v === 0)).toBe(true);
  });
});
