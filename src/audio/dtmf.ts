/**
 * DTMF (ITU-T Q.23) tone generation, and a Goertzel detector for tests and the simulator.
 *
 * Level reference: in G.711 μ-law a sine of peak 5664 on the 14-bit scale (±8159) is 0 dBm0
 * (full-scale +3.17 dBm0). The classic 16-bit coder works on that scale ×4, so 0 dBm0 is a sine
 * of peak 22656 in PCM16. Tones are sent at −7 dBm0 (high group) and −9 dBm0 (low group): a
 * little hotter than the Q.24 minimum, with the high tone 2 dB up ("forward twist") to offset
 * line loss at higher frequencies.
 */

export class InvalidDtmfError extends Error {
  override readonly name = 'InvalidDtmfError';
  constructor(
    message: string,
    /** the offending character, when one is to blame */
    readonly char?: string,
    readonly index?: number,
  ) {
    super(message);
  }
}

export interface DtmfOptions {
  /** tone duration, default 100 ms, at least 70 (Q.24 minimum recognition time plus margin) */
  toneMs?: number;
  /** silence after each tone, default 60 ms, at least 50 */
  gapMs?: number;
  /** silence for each 'w', default 500 ms; a 'W' is twice this */
  pauseMs?: number;
}

export interface DtmfHit {
  digit: string;
  startMs: number;
  endMs: number;
}

export const DTMF_LOW = [697, 770, 852, 941] as const;
export const DTMF_HIGH = [1209, 1336, 1477, 1633] as const;
const KEYS = ['123A', '456B', '789C', '*0#D'];

/** PCM16 peak amplitude of a 0 dBm0 sine (see the header comment). */
export const DBM0_PEAK = 5664 * 4;
export const DTMF_HIGH_DBM0 = -7;
export const DTMF_LOW_DBM0 = -9;
const RAMP_MS = 2;
/** Longest digit string accepted: bounds the audio one request can generate. */
export const MAX_DTMF_DIGITS = 128;

function pairOf(ch: string): [number, number] | null {
  const c = ch.toUpperCase();
  for (const [r, low] of DTMF_LOW.entries()) {
    const col = KEYS[r]?.indexOf(c) ?? -1;
    const high = DTMF_HIGH[col];
    if (high !== undefined) return [low, high];
  }
  return null;
}

function clampMs(v: number | undefined, def: number, min: number, max: number): number {
  if (v === undefined || !Number.isFinite(v)) return def;
  return Math.min(max, Math.max(min, v));
}

/**
 * Renders `digits` (0-9 * # A-D, a-d; 'w' = pause, 'W' = two pauses) as PCM16 at `rate`. Every tone is
 * followed by `gapMs` of silence. Throws InvalidDtmfError for any other character, an empty
 * string or one longer than MAX_DTMF_DIGITS. Durations outside their range are clamped.
 */
export function generateDtmf(digits: string, rate: number, opts: DtmfOptions = {}): Int16Array {
  if (!Number.isInteger(rate) || rate < 4000 || rate > 384000) throw new RangeError(`generateDtmf: bad rate ${rate}`);
  if (typeof digits !== 'string' || digits.length === 0) throw new InvalidDtmfError('no DTMF digits given');
  if (digits.length > MAX_DTMF_DIGITS) {
    throw new InvalidDtmfError(`too many DTMF digits (${digits.length} > ${MAX_DTMF_DIGITS})`);
  }
  const tone = Math.round((clampMs(opts.toneMs, 100, 70, 2000) * rate) / 1000);
  const gap = Math.round((clampMs(opts.gapMs, 60, 50, 2000) * rate) / 1000);
  const pause = Math.round((clampMs(opts.pauseMs, 500, 0, 10000) * rate) / 1000);
  const plan: ([number, number] | null)[] = [];
  let total = 0;
  for (let i = 0; i < digits.length; i++) {
    const ch = digits.charAt(i);
    // Twilio's pauses: `w` half a second, `W` a whole one (src/audio/dtmf-digits.ts).
    if (ch === 'w' || ch === 'W') {
      const n = ch === 'W' ? 2 : 1;
      for (let k = 0; k < n; k++) plan.push(null);
      total += n * pause;
      continue;
    }
    const pair = pairOf(ch);
    if (!pair) throw new InvalidDtmfError(`invalid DTMF character ${JSON.stringify(ch)} at ${i}`, ch, i);
    plan.push(pair);
    total += tone + gap;
  }
  const out = new Int16Array(total);
  const aLow = DBM0_PEAK * 10 ** (DTMF_LOW_DBM0 / 20);
  const aHigh = DBM0_PEAK * 10 ** (DTMF_HIGH_DBM0 / 20);
  const ramp = Math.max(1, Math.round((RAMP_MS * rate) / 1000));
  let at = 0;
  for (const pair of plan) {
    if (!pair) {
      at += pause;
      continue;
    }
    const wl = (2 * Math.PI * pair[0]) / rate;
    const wh = (2 * Math.PI * pair[1]) / rate;
    for (let i = 0; i < tone; i++) {
      // Raised-cosine on/off ramps: a hard edge splatters energy across the band (a click).
      const edge = Math.min(i, tone - 1 - i);
      const env = edge >= ramp ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * (edge + 0.5)) / ramp);
      out[at + i] = Math.round(env * (aLow * Math.sin(wl * i) + aHigh * Math.sin(wh * i)));
    }
    at += tone + gap;
  }
  return out;
}

// ---- detection -------------------------------------------------------------------------------

const BLOCK_MS = 25.6; // 205 samples at 8 kHz: resolves the 73 Hz spacing of the low group
const MIN_DURATION_MS = 40;
/** weakest tone accepted: −30 dBm0 (mean power of a sine = peak²/2) */
const MIN_TONE_POWER = (DBM0_PEAK * 10 ** (-30 / 20)) ** 2 / 2;
const MAX_TWIST_DB = 8;
/** each winning tone must beat the rest of its group by this much */
const GROUP_MARGIN_DB = 8;
/** the two tones must carry this share of the block's energy (rejects speech and noise) */
const MIN_TONE_SHARE = 0.7;

/** Mean power (peak²/2 for a sine) of frequency f in x[start .. start+n), by Goertzel. */
function goertzel(x: Int16Array, start: number, n: number, f: number, rate: number): number {
  const coeff = 2 * Math.cos((2 * Math.PI * f) / rate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = (x[start + i] as number) + coeff * s1 - s2; // i < n: the caller keeps start + n in x
    s2 = s1;
    s1 = s0;
  }
  const mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return (2 * mag2) / (n * n);
}

function strongest(x: Int16Array, start: number, n: number, freqs: readonly number[], rate: number) {
  let best = -1;
  let bestP = 0;
  let second = 0;
  for (const [i, f] of freqs.entries()) {
    const p = goertzel(x, start, n, f, rate);
    if (p > bestP) {
      second = bestP;
      bestP = p;
      best = i;
    } else if (p > second) second = p;
  }
  return { best, power: bestP, second };
}

function blockDigit(x: Int16Array, start: number, n: number, rate: number): string | null {
  const low = strongest(x, start, n, DTMF_LOW, rate);
  const high = strongest(x, start, n, DTMF_HIGH, rate);
  if (low.best < 0 || high.best < 0) return null;
  if (low.power < MIN_TONE_POWER || high.power < MIN_TONE_POWER) return null;
  const twistDb = 10 * Math.log10(high.power / low.power);
  if (Math.abs(twistDb) > MAX_TWIST_DB) return null;
  const margin = 10 ** (GROUP_MARGIN_DB / 10);
  if (low.power < low.second * margin || high.power < high.second * margin) return null;
  let energy = 0;
  for (let i = start; i < start + n; i++) {
    const v = x[i] as number; // start + n is within x (as for the Goertzel filters above)
    energy += v * v;
  }
  if (low.power + high.power < MIN_TONE_SHARE * (energy / n)) return null;
  return KEYS[low.best]?.[high.best] ?? null;
}

/**
 * Finds DTMF digits in `samples`: Goertzel over 25.6 ms blocks with a quarter-block hop; a key
 * is reported when it wins consecutive blocks spanning at least 40 ms. A block that only partly
 * overlaps a tone still passes while the tone fills ≥ 70 % of it (MIN_TONE_SHARE), so the span of
 * winning blocks overstates a tone by up to 0.3 block at each end: 40 ms tones are always
 * accepted and tones under ~24 ms always rejected (Q.24 asks for ≥ 40 ms accepted, < 20 ms not).
 * Reported times take that overstatement back out; they are accurate to about a hop (±7 ms).
 */
export function detectDtmf(samples: Int16Array, rate: number): DtmfHit[] {
  if (!Number.isFinite(rate) || rate < 4000) throw new RangeError(`detectDtmf: bad rate ${rate}`);
  const n = Math.round((BLOCK_MS * rate) / 1000);
  const hop = Math.max(1, Math.round(n / 4));
  const overhang = (1 - MIN_TONE_SHARE) * n;
  const hits: DtmfHit[] = [];
  let cur: string | null = null;
  let curStart = 0;
  let curEnd = 0;
  const close = () => {
    if (cur !== null && ((curEnd - curStart) * 1000) / rate >= MIN_DURATION_MS) {
      const start = Math.min(curStart + overhang, samples.length);
      const end = Math.max(start, curEnd - overhang);
      hits.push({ digit: cur, startMs: (start * 1000) / rate, endMs: (end * 1000) / rate });
    }
    cur = null;
  };
  for (let start = 0; start + n <= samples.length; start += hop) {
    const d = blockDigit(samples, start, n, rate);
    if (d !== null && d === cur) {
      curEnd = start + n;
      continue;
    }
    close();
    if (d !== null) {
      cur = d;
      curStart = start;
      curEnd = start + n;
    }
  }
  close();
  return hits;
}
