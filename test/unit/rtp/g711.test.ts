import { describe, expect, it } from 'vitest';
import { g711 } from '../../../src/rtp/g711.js';

describe('G.711 codec choice', () => {
  it('gives each law its codec and silence byte, silence decoding to (near) zero', () => {
    for (const [name, silence] of [
      ['PCMU', 0xff],
      ['PCMA', 0xd5],
    ] as const) {
      const c = g711(name);
      expect(c.name).toBe(name);
      expect(c.silence).toBe(silence);
      expect(Math.abs(c.decode(new Uint8Array([silence]))[0]!)).toBeLessThanOrEqual(8);
      expect(c.encode(new Int16Array([0]))[0]).toBe(silence);
    }
  });
});
