import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReorderBuffer } from '../../../src/rtp/reorder.js';
import { extendSeq, seqDelta } from '../../../src/rtp/seq.js';

interface P {
  sequence: number;
  ssrc: number;
  id: number;
}
const pkt = (id: number, base: number, ssrc = 1): P => ({ sequence: (base + id) & 0xffff, ssrc, id });

describe('sequence arithmetic', () => {
  it('wraps at 65535', () => {
    expect(seqDelta(0, 65535)).toBe(1);
    expect(seqDelta(65535, 0)).toBe(-1);
    expect(seqDelta(5, 5)).toBe(0);
    expect(extendSeq(2, 65534)).toBe(65538);
    expect(extendSeq(65534, 65538)).toBe(65534);
  });
});

describe('reorder buffer', () => {
  it('releases any stream displaced by less than its depth, with duplicates, as the reference sort', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 300 }),
        fc.infiniteStream(fc.nat(100)),
        (base, depth, n, rand) => {
          const it = rand[Symbol.iterator]();
          const draw = () => it.next().value as number;
          // each packet moves later by at most depth-1 places; some are sent twice
          const sent = Array.from({ length: n }, (_, i) => ({ p: pkt(i, base), key: i + (draw() % depth) }));
          const withDups = sent.flatMap((s) => (draw() < 15 ? [s, { ...s, key: s.key + (draw() % depth) }] : [s]));
          withDups.sort((a, b) => a.key - b.key || a.p.id - b.p.id);
          const buf = new ReorderBuffer<P>(depth);
          const out = withDups.flatMap((s) => buf.push(s.p));
          out.push(...buf.flush());
          // reference: the ids in order, each once (ids are the unwrapped sequence)
          expect(out.map((p) => p.id)).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(buf.stats.lost).toBe(0);
          // a second copy is dropped as a duplicate while held, as late once released
          expect(buf.stats.late + buf.stats.duplicates).toBe(withDups.length - n);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('always releases in strictly increasing order, whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.integer({ min: -20, max: 40 }), { maxLength: 200 }),
        (base, offsets) => {
          const buf = new ReorderBuffer<P>(4);
          const out = offsets.flatMap((o) => buf.push(pkt(o + 20, base)));
          out.push(...buf.flush());
          for (let i = 1; i < out.length; i++) expect(out[i]!.id).toBeGreaterThan(out[i - 1]!.id);
          expect(buf.held).toBe(0);
        },
      ),
    );
  });

  it('passes in-order packets at once, across the wrap', () => {
    const buf = new ReorderBuffer<P>(4);
    const got: number[] = [];
    // the first depth+1 packets fix the start; after that each one comes straight out
    for (let i = 0; i < 5; i++) buf.push(pkt(i, 65533));
    for (let i = 5; i < 10; i++) got.push(...buf.push(pkt(i, 65533)).map((p) => p.id));
    expect(got).toEqual([5, 6, 7, 8, 9]);
  });

  it('gives up a missing packet once depth later ones wait, and drops it as late after', () => {
    const buf = new ReorderBuffer<P>(2);
    const ids = (ps: P[]) => ps.map((p) => p.id);
    expect(ids([0, 1, 2].flatMap((i) => buf.push(pkt(i, 100))))).toEqual([0, 1, 2]);
    expect(ids(buf.push(pkt(4, 100)))).toEqual([]);
    expect(ids(buf.push(pkt(5, 100)))).toEqual([]);
    expect(ids(buf.push(pkt(6, 100)))).toEqual([4, 5, 6]);
    expect(buf.stats.lost).toBe(1);
    expect(ids(buf.push(pkt(3, 100)))).toEqual([]);
    expect(buf.stats.late).toBe(1);
    expect(ids(buf.push(pkt(6, 100)))).toEqual([]);
    expect(buf.stats.late).toBe(2);
  });

  it('counts a duplicate still held', () => {
    const buf = new ReorderBuffer<P>(3);
    buf.push(pkt(0, 0));
    buf.push(pkt(0, 0));
    expect(buf.stats.duplicates).toBe(1);
  });

  it('starts again on a new SSRC or a big jump, releasing what it held', () => {
    const buf = new ReorderBuffer<P>(3);
    for (let i = 0; i < 6; i++) buf.push(pkt(i, 0));
    expect(buf.push(pkt(8, 0)).length).toBe(0);
    const out = buf.push(pkt(0, 40000, 2));
    expect(out.map((p) => p.id)).toEqual([8]);
    expect(buf.stats.resets).toBe(1);
    for (let i = 1; i < 5; i++) buf.push(pkt(i, 40000, 2));
    expect(buf.push(pkt(5, 40000, 2)).map((p) => p.id)).toEqual([5]);
    buf.push(pkt(5000, 40000, 2));
    expect(buf.stats.resets).toBe(2);
  });
});
