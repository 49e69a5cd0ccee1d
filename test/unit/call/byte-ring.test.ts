import { describe, expect, it } from 'vitest';
import { ByteRing } from '../../../src/call/byte-ring.js';

const bytes = (from: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (from + i) & 0xff);

describe('ByteRing', () => {
  it('returns bytes in the order written across wrap-around and growth', () => {
    const r = new ByteRing(8, 1024);
    const out = new Uint8Array(5);
    let next = 0;
    let expect0 = 0;
    for (let round = 0; round < 50; round++) {
      r.write(bytes(next, 7));
      next += 7;
      while (r.read(out)) {
        expect(Array.from(out)).toEqual(Array.from(bytes(expect0, 5)));
        expect0 += 5;
      }
    }
    expect(r.dropped).toBe(0);
  });

  it('drops the oldest bytes past its bound and counts them', () => {
    const r = new ByteRing(4, 10);
    r.write(bytes(0, 8));
    r.write(bytes(8, 6));
    expect(r.length).toBe(10);
    expect(r.dropped).toBe(4);
    const out = new Uint8Array(10);
    expect(r.read(out)).toBe(true);
    expect(Array.from(out)).toEqual(Array.from(bytes(4, 10)));
  });

  it('refuses a read larger than what is queued without consuming anything', () => {
    const r = new ByteRing(16, 16);
    r.write(bytes(0, 3));
    expect(r.read(new Uint8Array(4))).toBe(false);
    expect(r.length).toBe(3);
  });
});
