import { describe, expect, it } from 'vitest';
import { InboundAudio } from '../../../src/call/inbound.js';

const chunk = new Uint8Array(160).fill(0x7f);

describe('InboundAudio', () => {
  it('turns 20 ms μ-law chunks into exact 20 ms frames at the engine rate', () => {
    const frames: number[] = [];
    const a = new InboundAudio(24000, (f) => frames.push(f.length));
    for (let i = 0; i < 50; i++) a.pushMulaw(chunk, i * 20);
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.every((n) => n === 480)).toBe(true);
  });

  it('does not let timestamps that outrun the wall clock make it generate seconds of silence', () => {
    let frames = 0;
    const a = new InboundAudio(24000, () => frames++);
    // 200 chunks, each claiming a 2 s jump, sent within a few ms: at most ~100 ms of fill each.
    for (let i = 0; i < 200; i++) a.pushMulaw(chunk, i * 2000);
    expect(a.stats.silenceFilledMs).toBeLessThan(200 * 110);
    expect(frames).toBeLessThan(200 * 7);
  });

  it('drops a late or duplicate chunk instead of playing it out of order', () => {
    const a = new InboundAudio(8000, () => {});
    a.pushMulaw(chunk, 0);
    a.pushMulaw(chunk, 20);
    a.pushMulaw(chunk, 20);
    expect(a.stats.lateChunks).toBe(1);
  });
});
