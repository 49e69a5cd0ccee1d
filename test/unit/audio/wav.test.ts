import { describe, expect, it } from 'vitest';
import { readWav, WavError, writeWav } from '../../../src/audio/wav.js';
import alawmulaw from 'alawmulaw';
import { encodeMulaw } from '../../../src/audio/mulaw.js';

interface Spec {
  format?: number;
  channels?: number;
  rate?: number;
  bits?: number;
  blockAlign?: number;
  data: Uint8Array;
  dataSize?: number;
  extensible?: boolean;
  before?: Uint8Array[];
}

function chunk(id: string, body: Uint8Array, declared = body.length): Uint8Array {
  const out = Buffer.alloc(8 + body.length + (body.length & 1));
  out.write(id, 0, 'latin1');
  out.writeUInt32LE(declared, 4);
  out.set(body, 8);
  return out;
}

function wav(s: Spec): Uint8Array {
  const channels = s.channels ?? 1;
  const bits = s.bits ?? 16;
  const fmt = Buffer.alloc(s.extensible ? 40 : 16);
  fmt.writeUInt16LE(s.extensible ? 0xfffe : (s.format ?? 1), 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(s.rate ?? 8000, 4);
  fmt.writeUInt32LE((s.rate ?? 8000) * channels * (bits / 8), 8);
  fmt.writeUInt16LE(s.blockAlign ?? channels * (bits / 8), 12);
  fmt.writeUInt16LE(bits, 14);
  if (s.extensible) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(bits, 18);
    fmt.writeUInt16LE(s.format ?? 1, 24);
  }
  const parts = [chunk('fmt ', fmt), ...(s.before ?? []), chunk('data', s.data, s.dataSize)];
  const body = Buffer.concat([Buffer.from('WAVE'), ...parts]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

const le16 = (xs: number[]) => {
  const b = Buffer.alloc(xs.length * 2);
  xs.forEach((v, i) => b.writeInt16LE(v, i * 2));
  return b;
};

describe('WAV io', () => {
  it('round-trips PCM16 mono through writeWav/readWav', () => {
    const x = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const file = writeWav(x, 24000);
    expect(file.length).toBe(44 + 12);
    expect(file.subarray(0, 4).toString('latin1')).toBe('RIFF');
    const back = readWav(file);
    expect(back.rate).toBe(24000);
    expect(back.channels).toBe(1);
    expect(Array.from(back.samples)).toEqual(Array.from(x));
  });

  it('reads PCM8 (unsigned), μ-law, float32 and extensible headers', () => {
    expect(Array.from(readWav(wav({ bits: 8, data: Uint8Array.from([128, 255, 0]) })).samples)).toEqual([
      0, 32512, -32768,
    ]);
    const muBytes = encodeMulaw(Int16Array.from([0, 1000, -8000]));
    const mu = readWav(wav({ format: 7, bits: 8, data: muBytes }));
    expect(Array.from(mu.samples)).toEqual(Array.from(alawmulaw.mulaw.decode(muBytes)));
    const f = Buffer.alloc(16);
    [0.5, -1, 2, Number.NaN].forEach((v, i) => f.writeFloatLE(v, i * 4));
    expect(Array.from(readWav(wav({ format: 3, bits: 32, data: f })).samples)).toEqual([16384, -32767, 32767, 0]);
    const ext = readWav(wav({ extensible: true, data: le16([5, -5]) }));
    expect(Array.from(ext.samples)).toEqual([5, -5]);
  });

  it('mixes stereo to mono', () => {
    const out = readWav(wav({ channels: 2, rate: 44100, data: le16([100, 300, -32768, -32768, 32767, -32767]) }));
    expect(out.channels).toBe(2);
    expect(out.rate).toBe(44100);
    expect(Array.from(out.samples)).toEqual([200, -32768, 0]);
  });

  it('skips unknown chunks, odd-sized ones included', () => {
    const list = chunk('LIST', Uint8Array.from([1, 2, 3]));
    expect(Array.from(readWav(wav({ before: [list], data: le16([42]) })).samples)).toEqual([42]);
  });

  it('reads the whole frames present when the data chunk claims more than the file holds', () => {
    const file = wav({ channels: 2, data: le16([1, 2, 3, 4, 5]), dataSize: 0xffffffff });
    expect(readWav(file).samples.length).toBe(2);
  });

  it('rejects malformed files with a WavError that says why', () => {
    const good = wav({ data: le16([1]) });
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(4), /too short/],
      [Buffer.concat([Buffer.from('RIFX'), good.subarray(4)]), /not a RIFF/],
      [Buffer.concat([good.subarray(0, 8), Buffer.from('AVI '), good.subarray(12)]), /not WAVE/],
      [wav({ format: 2, data: le16([1]) }), /unsupported encoding/],
      [wav({ bits: 24, data: new Uint8Array(3) }), /unsupported encoding/],
      [wav({ channels: 0, data: le16([1]) }), /channel count/],
      [wav({ rate: 0, data: le16([1]) }), /sample rate/],
      [wav({ blockAlign: 7, data: le16([1]) }), /block align/],
      [Buffer.concat([Buffer.from('RIFF\x10\0\0\0WAVE', 'latin1'), chunk('data', le16([1]))]), /data chunk before fmt/],
      [Buffer.from('RIFF\x04\0\0\0WAVE', 'latin1'), /no fmt chunk/],
      [good.subarray(0, 36), /no data chunk/],
      [good.subarray(0, 30), /fmt chunk runs past/],
    ];
    for (const [buf, why] of cases) {
      expect(() => readWav(buf)).toThrow(WavError);
      expect(() => readWav(buf)).toThrow(why);
    }
    expect(() => writeWav(new Int16Array(1), 0)).toThrow(WavError);
  });
});
