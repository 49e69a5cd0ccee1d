import { describe, expect, it } from 'vitest';
import { generateDefaultHold, HoldPlayer } from '../../../src/audio/hold.js';
import { at } from '../../helpers/checked.js';
import { rms, tonePower } from './signal.js';

function maxStep(x: Int16Array, from = 1, to = x.length): number {
  let m = 0;
  for (let i = Math.max(1, from); i < to; i++) m = Math.max(m, Math.abs(x[i]! - x[i - 1]!));
  return m;
}

describe('HoldPlayer', () => {
  it('loops the source seamlessly across reads of any size', () => {
    const p = new HoldPlayer(Int16Array.from([1, 2, 3, 4, 5]), 8000);
    const a = new Int16Array(3);
    const b = new Int16Array(9);
    p.read(a);
    p.read(b);
    expect([...a, ...b]).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]);
  });

  it('fades out without a click, then yields silence and reports done', () => {
    const src = generateDefaultHold(8000, 4);
    const p = new HoldPlayer(src, 8000);
    const pre = new Int16Array(1000);
    p.read(pre);
    p.fadeOut(200);
    expect(p.done).toBe(false);
    const fade = new Int16Array(8000);
    p.read(fade);
    expect(p.done).toBe(true);
    // steps during the fade are no bigger than the music's own
    expect(maxStep(fade, 1, 1600)).toBeLessThanOrEqual(maxStep(src) + 1);
    expect(Math.abs(at(fade, 0, 'fade') - at(pre, 999, 'pre'))).toBeLessThanOrEqual(maxStep(src) + 1);
    // the level falls: last 50 ms of the ramp much quieter than the first 50 ms
    expect(rms(fade, 1200, 1600)).toBeLessThan(rms(fade, 0, 400) / 3);
    expect(fade.subarray(1601).every((v) => v === 0)).toBe(true);
    const after = new Int16Array(160).fill(7);
    p.read(after);
    expect(after.every((v) => v === 0)).toBe(true);
  });

  it('plays again from the top after reset()', () => {
    const p = new HoldPlayer(Int16Array.from([9, 8, 7]), 8000);
    p.fadeOut(0);
    p.read(new Int16Array(4));
    expect(p.done).toBe(true);
    p.reset();
    const out = new Int16Array(4);
    p.read(out);
    expect(Array.from(out)).toEqual([9, 8, 7, 9]);
    expect(p.done).toBe(false);
  });

  it('yields silence for an empty source', () => {
    const out = new Int16Array(10).fill(3);
    new HoldPlayer(new Int16Array(0), 8000).read(out);
    expect(out.every((v) => v === 0)).toBe(true);
  });
});

describe('generateDefaultHold', () => {
  it('is soft (about −20 dBFS RMS) with peaks well below full scale', () => {
    for (const rate of [8000, 24000]) {
      const x = generateDefaultHold(rate);
      expect(x.length).toBe(8 * rate);
      const dbfs = 20 * Math.log10(rms(x) / 32767);
      expect(dbfs).toBeGreaterThan(-22);
      expect(dbfs).toBeLessThan(-18);
      expect(x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeLessThan(0.75 * 32767);
    }
  });

  it('joins its end to its start without a jump', () => {
    const x = generateDefaultHold(8000, 6);
    const jump = Math.abs(at(x, 0) - at(x, x.length - 1));
    expect(jump).toBeLessThanOrEqual(maxStep(x));
    // and the level around the loop point matches the rest of the loop (no hole, no bump)
    const around = rms(Int16Array.from([...x.subarray(-800), ...x.subarray(0, 800)]));
    expect(around).toBeGreaterThan(rms(x) * 0.3);
  });

  it('keeps its energy inside the telephone band', () => {
    const x = generateDefaultHold(8000);
    const low = tonePower(x, 150, 8000) + tonePower(x, 100, 8000);
    const mid = tonePower(x, 523.25, 8000) + tonePower(x, 392, 8000);
    expect(mid).toBeGreaterThan(low * 100);
  });
});
