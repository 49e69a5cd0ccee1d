import { describe, expect, it } from 'vitest';
import * as audio from '../../../src/audio/index.js';

describe('audio index', () => {
  it('sizes 20 ms frames for every rate the bridge uses', () => {
    expect(audio.frameSamples(8000)).toBe(160);
    expect(audio.frameSamples(16000)).toBe(320);
    expect(audio.frameSamples(24000)).toBe(480);
    expect(audio.frameSamples(22050)).toBe(441);
    expect(audio.frameSamples(48000, 10)).toBe(480);
    expect(() => audio.frameSamples(0)).toThrow(RangeError);
    expect(() => audio.frameSamples(Number.NaN)).toThrow(RangeError);
  });

  it('re-exports the whole audio layer', () => {
    for (const name of [
      'decodeMulaw',
      'encodeMulaw',
      'StreamResampler',
      'Framer',
      'GapFiller',
      'generateDtmf',
      'detectDtmf',
      'InvalidDtmfError',
      'HoldPlayer',
      'generateDefaultHold',
      'readWav',
      'writeWav',
      'WavError',
    ]) {
      expect(typeof (audio as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(audio.MULAW_SILENCE).toBe(0xff);
  });
});
