import { describe, expect, it } from 'vitest';
import { detectDtmf, generateDtmf, InvalidDtmfError } from '../../../src/audio/dtmf.js';
import { decodeMulaw, encodeMulaw } from '../../../src/audio/mulaw.js';
import { at, defined } from '../../helpers/checked.js';
import { tonePower } from './signal.js';

const ALL = '123A456B789C*0#D';
const PAIRS: Record<string, [number, number]> = {
  '1': [697, 1209],
  '2': [697, 1336],
  '3': [697, 1477],
  A: [697, 1633],
  '4': [770, 1209],
  '5': [770, 1336],
  '6': [770, 1477],
  B: [770, 1633],
  '7': [852, 1209],
  '8': [852, 1336],
  '9': [852, 1477],
  C: [852, 1633],
  '*': [941, 1209],
  '0': [941, 1336],
  '#': [941, 1477],
  D: [941, 1633],
};
/** G.711: a 0 dBm0 sine has peak 5664 on the 14-bit μ-law scale, ×4 in PCM16. */
const DBM0_POWER = (5664 * 4) ** 2 / 2;

const viaMulaw = (x: Int16Array) => decodeMulaw(encodeMulaw(x));

/** [start, end) sample spans of sound, separated by runs of at least 1 ms of exact zeros. */
function soundSpans(x: Int16Array, rate: number): [number, number][] {
  const minSilence = rate / 1000;
  const spans: [number, number][] = [];
  let start = -1;
  let zeros = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== 0) {
      if (start < 0) start = i;
      zeros = 0;
    } else if (start >= 0 && ++zeros >= minSilence) {
      spans.push([start, i - zeros + 1]);
      start = -1;
    }
  }
  if (start >= 0) spans.push([start, x.length - zeros]);
  return spans;
}

describe('generateDtmf / detectDtmf', () => {
  it('round-trips every key, alone, at 8 kHz (also through μ-law) and 24 kHz', () => {
    for (const d of ALL) {
      expect(detectDtmf(generateDtmf(d, 8000), 8000).map((h) => h.digit)).toEqual([d]);
      expect(detectDtmf(viaMulaw(generateDtmf(d, 8000)), 8000).map((h) => h.digit)).toEqual([d]);
      expect(detectDtmf(generateDtmf(d, 24000), 24000).map((h) => h.digit)).toEqual([d]);
    }
  });

  it('round-trips a whole string through μ-law, lower-case letters included', () => {
    const x = viaMulaw(generateDtmf('123a456b789c*0#d', 8000));
    expect(
      detectDtmf(x, 8000)
        .map((h) => h.digit)
        .join(''),
    ).toBe(ALL);
  });

  it('keeps tones ≥ 70 ms and gaps ≥ 50 ms, even when asked for shorter', () => {
    for (const opts of [{}, { toneMs: 70, gapMs: 50 }, { toneMs: 20, gapMs: 5 }]) {
      const x = generateDtmf('1397', 8000, opts);
      const spans = soundSpans(x, 8000);
      expect(spans.length).toBe(4);
      for (const [s, e] of spans) expect((e - s) / 8).toBeGreaterThanOrEqual(69.5);
      for (let i = 1; i < spans.length; i++)
        expect((at(spans, i)[0] - at(spans, i - 1)[1]) / 8).toBeGreaterThanOrEqual(50);
    }
    const def = soundSpans(generateDtmf('55', 8000), 8000);
    const [first, second] = [at(def, 0, 'spans'), at(def, 1, 'spans')];
    expect((first[1] - first[0]) / 8).toBeCloseTo(100, 0);
    expect((second[0] - first[1]) / 8).toBeCloseTo(60, 0);
  });

  it('sends the low group at −9 dBm0 and the high group at −7 dBm0 (±1 dB, after μ-law)', () => {
    for (const d of ALL) {
      const x = viaMulaw(generateDtmf(d, 8000));
      const [low, high] = defined(PAIRS[d], `PAIRS['${d}']`);
      // steady part of the tone: skip the 2 ms ramps
      const lowDb = 10 * Math.log10(tonePower(x, low, 8000, 40, 760) / DBM0_POWER);
      const highDb = 10 * Math.log10(tonePower(x, high, 8000, 40, 760) / DBM0_POWER);
      expect(Math.abs(lowDb + 9), `${d} low ${lowDb}`).toBeLessThanOrEqual(1);
      expect(Math.abs(highDb + 7), `${d} high ${highDb}`).toBeLessThanOrEqual(1);
    }
  });

  it('ramps tones in and out (no click at either edge)', () => {
    const x = generateDtmf('0', 8000);
    const [s, e] = at(soundSpans(x, 8000), 0, 'spans');
    let maxEdge = 0;
    for (let i = s; i < s + 4; i++) maxEdge = Math.max(maxEdge, Math.abs(at(x, i, 'x')));
    for (let i = e - 4; i < e; i++) maxEdge = Math.max(maxEdge, Math.abs(at(x, i, 'x')));
    expect(maxEdge).toBeLessThan(2000); // full level peaks near 18000
  });

  it("turns each 'w' into a pause (default 500 ms) and each 'W' into two, as Twilio does", () => {
    const x = generateDtmf('1w2W', 8000);
    expect(x.length).toBe(8 * (160 + 500 + 160 + 1000));
    const hits = detectDtmf(x, 8000);
    expect(hits.map((h) => h.digit)).toEqual(['1', '2']);
    expect(at(hits, 1, 'hits').startMs - at(hits, 0, 'hits').endMs).toBeGreaterThanOrEqual(540);
    expect(generateDtmf('w', 8000, { pauseMs: 250 }).length).toBe(2000);
  });

  it('rejects unknown characters with a typed error naming them', () => {
    try {
      generateDtmf('12x4', 8000);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidDtmfError);
      expect((err as InvalidDtmfError).char).toBe('x');
      expect((err as InvalidDtmfError).index).toBe(2);
    }
    expect(() => generateDtmf('', 8000)).toThrow(InvalidDtmfError);
    expect(() => generateDtmf('1'.repeat(500), 8000)).toThrow(InvalidDtmfError);
    expect(() => generateDtmf('1 2', 8000)).toThrow(InvalidDtmfError);
  });

  it('reports times within a few ms of where the tones are', () => {
    const x = new Int16Array(8000);
    x.set(generateDtmf('12', 8000), 800); // tones at 100–200 ms and 260–360 ms
    const hits = detectDtmf(x, 8000);
    expect(hits.map((h) => h.digit)).toEqual(['1', '2']);
    const want: [number, number][] = [
      [100, 200],
      [260, 360],
    ];
    hits.forEach((h, i) => {
      const [start, end] = at(want, i, 'want');
      expect(Math.abs(h.startMs - start)).toBeLessThanOrEqual(8);
      expect(Math.abs(h.endMs - end)).toBeLessThanOrEqual(8);
    });
  });

  it('accepts 40 ms tones at any alignment and rejects 30 ms ones', () => {
    const tone = generateDtmf('8', 8000);
    for (let offset = 0; offset < 64; offset += 5) {
      for (const [ms, want] of [
        [40, 1],
        [30, 0],
      ] as const) {
        const x = new Int16Array(4000);
        x.set(tone.subarray(0, ms * 8), 400 + offset);
        expect(detectDtmf(x, 8000).length, `${ms} ms at +${offset}`).toBe(want);
      }
    }
  });

  it('ignores single tones, noise, and tones shorter than 40 ms', () => {
    const rate = 8000;
    const single = Int16Array.from({ length: 4000 }, (_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 770 * i) / rate)),
    );
    expect(detectDtmf(single, rate)).toEqual([]);
    let seed = 1;
    const noise = Int16Array.from({ length: 8000 }, () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed % 16000) - 8000;
    });
    expect(detectDtmf(noise, rate)).toEqual([]);
    const short = generateDtmf('5', rate).subarray(0, 240); // 30 ms of tone
    expect(detectDtmf(short, rate)).toEqual([]);
    expect(detectDtmf(new Int16Array(0), rate)).toEqual([]);
  });
});
