import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import { OutboundQueue } from '../../../src/call/playback/outbound-queue.js';
import { tone } from '../../helpers/playback.js';

const drain = (q: OutboundQueue): Uint8Array[] => {
  const out: Uint8Array[] = [];
  const f = new Uint8Array(160);
  while (q.read(f)) out.push(f.slice());
  return out;
};

describe('OutboundQueue: resample, encode, queue', () => {
  it('queues whole 20 ms μ-law frames; the remainder waits and comes out encoded, unpadded', () => {
    const q = new OutboundQueue(1000);
    const pcm = tone(95, 8000);
    q.pushAgent(pcm, 8000);
    expect(q.length).toBe(4 * 160);
    expect(q.queuedMs).toBe(95);
    const frames = drain(q);
    const partial = q.takePartialMulaw();
    expect(partial.length).toBe(120);
    expect(Array.from(partial)).toEqual(Array.from(alawmulaw.mulaw.encode(pcm.subarray(640))));
    expect(Array.from(frames[0]!)).toEqual(Array.from(alawmulaw.mulaw.encode(pcm.subarray(0, 160))));
    expect(q.takePartialMulaw().length).toBe(0);
    expect(q.queuedMs).toBe(0);
  });

  it('resamples agent audio as one stream: chunking does not change the bytes', () => {
    const pcm = tone(300, 24000);
    const whole = new OutboundQueue(1000);
    whole.pushAgent(pcm, 24000);
    const chunked = new OutboundQueue(1000);
    for (let i = 0; i < pcm.length; i += 37) chunked.pushAgent(pcm.subarray(i, i + 37), 24000);
    expect(drain(chunked)).toEqual(drain(whole));
    expect(Array.from(chunked.takePartialMulaw())).toEqual(Array.from(whole.takePartialMulaw()));
  });

  it('bridge tones start on a frame boundary of their own, after the agent audio before them', () => {
    const q = new OutboundQueue(1000);
    q.pushAgent(tone(30, 8000), 8000); // one frame and a half
    q.pushPcm8k(tone(30, 8000));
    expect(q.length).toBe(4 * 160); // the agent's half frame and the tone's are padded out
    expect(q.takePartialMulaw().length).toBe(0);
  });

  it('a full queue drops the oldest audio and reports the frames dropped', () => {
    const drops: number[] = [];
    const q = new OutboundQueue(100, (n) => drops.push(n)); // 5 frames
    q.pushAgent(tone(200, 8000), 8000);
    expect(q.length).toBeLessThanOrEqual(800);
    expect(q.droppedBytes).toBeGreaterThan(0);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(Math.ceil(q.droppedBytes / 160));
  });

  it('clear drops everything queued and the partial frame', () => {
    const q = new OutboundQueue(1000);
    q.pushAgent(tone(95, 16000), 16000);
    q.clear();
    expect(q.queuedMs).toBe(0);
    expect(q.takePartialMulaw().length).toBe(0);
  });
});
