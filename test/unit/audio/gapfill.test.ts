import { describe, expect, it } from 'vitest';
import { GapFiller } from '../../../src/audio/gapfill.js';

describe('GapFiller', () => {
  it('inserts nothing for contiguous 20 ms chunks', () => {
    const g = new GapFiller();
    for (let t = 0; t < 2000; t += 20) expect(g.check(t, 160)).toBe(0);
    expect(g.filledSamples).toBe(0);
  });

  it('does not pad before the first chunk, whatever its timestamp', () => {
    expect(new GapFiller().check(5000, 160)).toBe(0);
  });

  it('fills a timestamp gap with exactly the missing samples', () => {
    const g = new GapFiller();
    expect(g.check(0, 160)).toBe(0);
    expect(g.check(20, 160)).toBe(0);
    expect(g.check(100, 160)).toBe(480); // 40..100 ms missing: 60 ms at 8 kHz
    expect(g.check(120, 160)).toBe(0);
    expect(g.filledSamples).toBe(480);
  });

  it('tolerates ms rounding for chunk sizes that are not whole milliseconds', () => {
    const g = new GapFiller();
    let exact = 0;
    for (let i = 0; i < 500; i++) {
      expect(g.check(Math.round(exact), 100)).toBe(0); // 12.5 ms chunks
      exact += 12.5;
    }
  });

  it('drops duplicates and late (reordered) chunks', () => {
    const g = new GapFiller();
    expect(g.check(0, 160)).toBe(0);
    expect(g.check(20, 160)).toBe(0);
    expect(g.check(20, 160)).toBe(-1); // duplicate
    expect(g.check(60, 160)).toBe(160); // 40 went missing…
    expect(g.check(40, 160)).toBe(-1); // …and arrives late: its slot was already filled
    expect(g.check(80, 160)).toBe(0);
    expect(g.dropped).toBe(2);
  });

  it('caps one fill at 2 s when the timestamp jumps wildly, then follows the new timeline', () => {
    const g = new GapFiller(8000);
    g.check(0, 160);
    expect(g.check(3_600_000, 160)).toBe(16000);
    expect(g.check(3_600_020, 160)).toBe(0);
    const wide = new GapFiller(24000, 500);
    wide.check(0, 480);
    expect(wide.check(1e12, 480)).toBe(12000);
  });

  it('resyncs after a run of backwards timestamps instead of muting the call', () => {
    const g = new GapFiller();
    for (let t = 0; t <= 10_000; t += 20) g.check(t, 160);
    const results: number[] = [];
    for (let t = 0; t < 400; t += 20) results.push(g.check(t, 160));
    expect(results.slice(0, 9).every((r) => r === -1)).toBe(true);
    expect(results.slice(9).every((r) => r === 0)).toBe(true);
  });

  it('drops malformed input', () => {
    const g = new GapFiller();
    expect(g.check(Number.NaN, 160)).toBe(-1);
    expect(g.check(-20, 160)).toBe(-1);
    expect(g.check(0, 1.5)).toBe(-1);
    expect(g.check(0, -1)).toBe(-1);
    expect(g.check(0, 160)).toBe(0);
  });
});
