import { describe, expect, it } from 'vitest';
import { AudioReassembler, PcmScratch, TAG_AUDIO, decodeServerMessage } from '../../../src/omni/framing.js';
import { Rng } from '../../helpers/fuzz.js';

/** The engine's reply as PCM16LE bytes, cut into tagged messages at the given byte offsets. */
function messages(bytes: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c <= prev) continue;
    // Behind ws's header a payload may sit at any memory offset: give some an odd one.
    const backing = Buffer.alloc(c - prev + 2);
    const at = (c & 1) + 0;
    backing[at] = TAG_AUDIO;
    bytes.copy(backing, at + 1, prev, c);
    out.push(backing.subarray(at, at + 1 + c - prev));
    prev = c;
  }
  return out;
}

describe('AudioReassembler', () => {
  it('reproduces every sample exactly, whatever byte offsets the engine cuts its audio at (500 seeded cuttings)', () => {
    const rng = new Rng(Number(process.env.FUZZ_SEED ?? 0x0dd));
    for (let c = 0; c < 500; c++) {
      const n = 1 + rng.int(4000);
      const pcm = Int16Array.from({ length: n }, () => rng.int(65536) - 32768);
      const bytes = Buffer.from(pcm.buffer);
      const cuts = Array.from({ length: rng.int(40) }, () => rng.int(bytes.length + 1)).sort((a, b) => a - b);
      const ra = new AudioReassembler();
      const scratch = new PcmScratch(4800);
      const got = new Int16Array(n + 2);
      let len = 0;
      for (const m of messages(bytes, cuts)) {
        const d = decodeServerMessage(m, true, scratch, ra);
        if (d.kind === 'audio') {
          got.set(d.pcm.subarray(0, n + 2 - len), len);
          len += d.pcm.length;
        }
      }
      expect(ra.pending).toBe(false);
      expect(len).toBe(n);
      expect(Buffer.compare(Buffer.from(got.buffer, 0, n * 2), bytes)).toBe(0);
    }
  });

  it('a byte left over when the engine drops its reply (barge-in) is forgotten, not glued to the next reply', () => {
    const ra = new AudioReassembler();
    const first = decodeServerMessage(Buffer.from([TAG_AUDIO, 0x34, 0x12, 0x99]), true, undefined, ra);
    expect(first.kind === 'audio' && Array.from(first.pcm)).toEqual([0x1234]);
    expect(ra.pending).toBe(true);
    ra.reset();
    const next = decodeServerMessage(Buffer.from([TAG_AUDIO, 0x02, 0x01]), true, undefined, ra);
    expect(next.kind === 'audio' && Array.from(next.pcm)).toEqual([0x0102]);
  });
});
