import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT_BYTES, truncateOutput } from '../../../src/tools/truncate.js';

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));
type Truncated = { truncated: true; bytes: number; preview: string };

/** A string output whose serialized size is exactly `n` bytes (ASCII body plus two quotes). */
const stringOfSize = (n: number): string => 'a'.repeat(n - 2);

describe('truncateOutput', () => {
  it('leaves outputs just below and exactly at 6144 bytes untouched', () => {
    const below = stringOfSize(MAX_OUTPUT_BYTES - 1);
    const at = stringOfSize(MAX_OUTPUT_BYTES);
    expect(truncateOutput(below)).toBe(below);
    expect(truncateOutput(at)).toBe(at);
    const obj = { items: [stringOfSize(MAX_OUTPUT_BYTES - 12)] }; // {"items":[..]} adds 12 bytes
    expect(bytes(obj)).toBe(MAX_OUTPUT_BYTES);
    expect(truncateOutput(obj)).toBe(obj);
  });

  it('truncates one byte above into valid JSON that still fits', () => {
    const above = stringOfSize(MAX_OUTPUT_BYTES + 1);
    const out = truncateOutput(above) as Truncated;
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBe(MAX_OUTPUT_BYTES + 1);
    expect(bytes(out)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
    expect(bytes(out)).toBeGreaterThan(MAX_OUTPUT_BYTES - 8); // preview uses the room it has
    expect(out.preview).toBe(JSON.stringify(above).slice(0, out.preview.length));
  });

  it('counts multi-byte characters in bytes, not characters', () => {
    const s = 'é'.repeat(3100); // 3100 chars, 6200 bytes + quotes
    expect(s.length * 2).toBeGreaterThan(MAX_OUTPUT_BYTES);
    const out = truncateOutput(s) as Truncated;
    expect(out.bytes).toBe(6202);
    expect(bytes(out)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
  });

  it.each([
    ['2-byte', 'é'],
    ['3-byte', '€'],
    ['4-byte (surrogate pair)', '😀'],
    ['mixed', 'a😀é€'],
  ])('cuts a %s sequence on a character boundary at every offset around the edge', (_label, unit) => {
    for (let pad = 0; pad < 8; pad++) {
      const value = 'x'.repeat(pad) + unit.repeat(Math.ceil(7000 / unit.length));
      const out = truncateOutput(value) as Truncated;
      const serialized = JSON.stringify(out);
      expect(Buffer.byteLength(serialized)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
      // Round trip through UTF-8 is lossless only when no surrogate pair was split.
      expect(Buffer.from(out.preview, 'utf8').toString('utf8')).toBe(out.preview);
      expect(out.preview).not.toMatch(/[\ud800-\udbff]$/);
      expect(JSON.parse(serialized)).toEqual(out);
    }
  });

  it('keeps the cap when the preview is full of characters that escaping enlarges', () => {
    const nasty = { text: '"\\\n\u0001'.repeat(3000) };
    const out = truncateOutput(nasty) as Truncated;
    expect(out.truncated).toBe(true);
    expect(bytes(out)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
    expect(out.preview.length).toBeGreaterThan(1000);
  });

  it('turns undefined into null and rejects unserializable values', () => {
    expect(truncateOutput(undefined)).toBeNull();
    expect(() => truncateOutput({ n: BigInt(1) })).toThrow();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => truncateOutput(cyclic)).toThrow();
  });

  it('cuts a megabyte output down to the limit, reporting its original size', () => {
    const big = { rows: Array.from({ length: 20000 }, (_, i) => ({ id: i, name: `row ${i} ✓` })) };
    const out = truncateOutput(big) as Truncated;
    expect(out.bytes).toBe(bytes(big));
    expect(bytes(out)).toBeLessThanOrEqual(MAX_OUTPUT_BYTES);
  });
});
