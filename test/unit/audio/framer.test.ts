import { describe, expect, it } from 'vitest';
import { Framer } from '../../../src/audio/framer.js';

const ramp = (from: number, n: number) => Int16Array.from({ length: n }, (_, i) => from + i);

function collect(framer: Framer, chunks: Int16Array[]): number[][] {
  const frames: number[][] = [];
  for (const c of chunks) framer.push(c, (f) => frames.push(Array.from(f)));
  return frames;
}

describe('Framer', () => {
  it('re-cuts chunks of any size into exact frames, in order, without losing a sample', () => {
    const f = new Framer(160);
    const sizes = [1, 159, 160, 161, 333, 7, 500, 0, 79];
    let next = 0;
    const chunks = sizes.map((n) => {
      const c = ramp(next, n);
      next += n;
      return c;
    });
    const frames = collect(f, chunks);
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(frames.length).toBe(Math.floor(total / 160));
    for (const fr of frames) expect(fr.length).toBe(160);
    expect(frames.flat()).toEqual(Array.from(ramp(0, frames.length * 160)));
    expect(f.buffered).toBe(total % 160);
    expect(f.droppedSamples).toBe(0);
  });

  it('flush pads the remainder with silence and emits it once', () => {
    const f = new Framer(4);
    collect(f, [Int16Array.from([1, 2, 3, 4, 5, 6])]);
    const out: number[][] = [];
    f.flush((fr) => out.push(Array.from(fr)));
    f.flush((fr) => out.push(Array.from(fr)));
    expect(out).toEqual([[5, 6, 0, 0]]);
    expect(f.buffered).toBe(0);
  });

  it('clear discards the remainder', () => {
    const f = new Framer(4);
    collect(f, [Int16Array.from([1, 2, 3])]);
    f.clear();
    expect(collect(f, [Int16Array.from([7, 8, 9, 10])])).toEqual([[7, 8, 9, 10]]);
  });

  it('hands whole frames out as views of the chunk (no copy) and keeps only a copy of the remainder', () => {
    const f = new Framer(2);
    const seen: Int16Array[] = [];
    const chunk = Int16Array.from([1, 2, 3, 4, 5]);
    f.push(chunk, (fr) => seen.push(fr));
    expect(seen.map((fr) => fr.buffer === chunk.buffer)).toEqual([true, true]);
    expect(seen.map((fr) => [...fr])).toEqual([
      [1, 2],
      [3, 4],
    ]);
    chunk.fill(0); // the caller reuses its buffer: the pending sample was copied
    expect(collect(f, [Int16Array.from([6])])).toEqual([[5, 6]]);
    const exact = Int16Array.from([7, 8]);
    f.push(exact, (fr) => expect(fr).toBe(exact));
  });

  it('fills a frame that straddles two chunks in its own buffer, reused from frame to frame', () => {
    const f = new Framer(2);
    const seen: Int16Array[] = [];
    f.push(Int16Array.from([1]), (fr) => seen.push(fr));
    const chunk = Int16Array.from([2, 3]);
    f.push(chunk, (fr) => seen.push(fr));
    f.push(Int16Array.from([4, 5]), (fr) => seen.push(fr));
    expect(seen.length).toBe(2);
    expect(seen[0]).toBe(seen[1]);
    expect(seen[0]!.buffer).not.toBe(chunk.buffer);
  });

  it('drops and counts the oldest samples when a push exceeds the bound', () => {
    const f = new Framer(4, 8);
    collect(f, [Int16Array.from([1, 2])]);
    const frames = collect(f, [ramp(10, 10)]); // 12 pending > 8: drop 1, 2 and 10, 11
    expect(f.droppedSamples).toBe(4);
    expect(frames).toEqual([
      [12, 13, 14, 15],
      [16, 17, 18, 19],
    ]);
    expect(f.buffered).toBe(0);
  });

  it('caps a huge chunk at the bound instead of emitting an unbounded burst', () => {
    const f = new Framer(160, 1600);
    let count = 0;
    f.push(new Int16Array(1_000_000), () => count++);
    expect(count).toBe(10);
    expect(f.droppedSamples).toBe(1_000_000 - 1600);
  });

  it('refuses re-entrant pushes and bad sizes', () => {
    const f = new Framer(2);
    expect(() => f.push(new Int16Array(2), () => f.push(new Int16Array(2), () => {}))).toThrow(/inside onFrame/);
    expect(collect(f, [Int16Array.from([1, 2])])).toEqual([[1, 2]]);
    expect(() => new Framer(0)).toThrow(RangeError);
    expect(() => new Framer(1.5)).toThrow(RangeError);
    expect(() => new Framer(4, -1)).toThrow(RangeError);
  });
});
