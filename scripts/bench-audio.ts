/**
 * Audio benchmark: our StreamResampler side by side with wave-resampler (called per 20 ms frame,
 * the way naive bridges use it) and libsamplerate-js (its streaming `full` API), plus the whole
 * inbound and outbound per-frame paths of the bridge.
 *
 *   npm run bench        (tsx scripts/bench-audio.ts; about 30 s)
 *
 * SINAD: a multi-tone (437, 1031, 2203, 3011 Hz: no period divides 20 ms, so frame joins are
 * exercised at every phase) is fed in 20 ms frames; the output is compared with the same tones
 * generated analytically at the output rate, delayed by the delay that fits best (integer lag
 * search, then a fractional refinement), over everything after the first 100 ms.
 * Out-of-band: 24k→8k, single tones 4.6–11 kHz; the worst (least) attenuation is reported.
 * Exits non-zero when one of our targets is missed.
 */

import libsamplerate from '@alexanderolsen/libsamplerate-js';
import waveResampler from 'wave-resampler';
import { decodeMulaw, encodeMulaw } from '../src/audio/mulaw.js';
import { StreamResampler } from '../src/audio/resampler.js';

type FrameFn = ((frame: Int16Array) => ArrayLike<number>) & { dispose?: () => void };

interface Candidate {
  name: string;
  make(inRate: number, outRate: number): Promise<FrameFn>;
}

const TONES = [437, 1031, 2203, 3011];
const TONE_AMP = 6000;
const OOB_TONES = [4600, 5000, 5500, 6000, 7000, 8000, 9000, 10000, 11000];
const TARGET_SINAD = 70;
const TARGET_OOB = 60;
const TARGET_US = 10;

const ours = (quality: 'high' | 'medium'): Candidate => ({
  name: `StreamResampler (${quality})`,
  make: async (a, b) => {
    const r = new StreamResampler(a, b, { quality });
    return (f) => r.process(f);
  },
});

const waveSinc: Candidate = {
  name: 'wave-resampler sinc/frame',
  make: async (a, b) => (f) => waveResampler.resample(f, a, b, { method: 'sinc' }),
};

const lsr = (label: string, type: number): Candidate => ({
  name: `libsamplerate ${label} (full)`,
  make: async (a, b) => {
    const src = await libsamplerate.create(1, a, b, { converterType: type as 0 });
    const fin = new Float32Array(a / 50);
    const fn: FrameFn = (f) => {
      for (let i = 0; i < f.length; i++) fin[i] = f[i]! / 32768;
      const y = src.full(fin);
      // back to PCM16 scale, as the bridge would have to
      const out = new Int16Array(y.length);
      for (let i = 0; i < y.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(y[i]! * 32768)));
      return out;
    };
    fn.dispose = () => src.destroy();
    return fn;
  },
});

const CANDIDATES: Candidate[] = [
  ours('high'),
  ours('medium'),
  waveSinc,
  lsr('SINC_BEST', libsamplerate.ConverterType.SRC_SINC_BEST_QUALITY),
  lsr('SINC_MEDIUM', libsamplerate.ConverterType.SRC_SINC_MEDIUM_QUALITY),
];

// ---- signals and measures ---------------------------------------------------------------------

function tonesAt(rate: number, n: number, freqs: number[], amp: number, delay: number, from = 0): Float64Array {
  const out = new Float64Array(n);
  for (const f of freqs) {
    const w = (2 * Math.PI * f) / rate;
    for (let i = 0; i < n; i++) out[i]! += amp * Math.sin(w * (from + i - delay));
  }
  return out;
}

function pcm(x: Float64Array): Int16Array {
  return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
}

/** Feeds `input` in frames through a fresh instance and returns everything it output. */
async function runFrames(c: Candidate, a: number, b: number, input: Int16Array): Promise<Float64Array> {
  const fn = await c.make(a, b);
  const frame = a / 50;
  const out = new Float64Array(Math.ceil((input.length * b) / a) + 64);
  let n = 0;
  for (let i = 0; i + frame <= input.length; i += frame) {
    const y = fn(input.subarray(i, i + frame));
    for (let k = 0; k < y.length && n < out.length; k++) out[n++] = y[k]!;
  }
  fn.dispose?.();
  return out.subarray(0, n);
}

function errorRatio(y: Float64Array, ref: (i: number) => number, from: number, to: number): number {
  let s = 0;
  let e = 0;
  for (let i = from; i < to; i++) {
    const r = ref(i);
    s += r * r;
    e += (y[i]! - r) ** 2;
  }
  return e / s;
}

/** SINAD (dB) against the analytic tones, at the best-fitting delay (searched, in output samples). */
function sinad(y: Float64Array, rate: number): { db: number; delay: number } {
  const from = Math.round(rate / 10);
  const to = y.length - 300;
  const maxLag = 300;
  // integer lags: one reference, shifted
  const base = tonesAt(rate, y.length + 2 * maxLag, TONES, TONE_AMP, 0, -maxLag);
  let best = 0;
  let bestErr = Infinity;
  for (let lag = -64; lag <= maxLag - 1; lag++) {
    const err = errorRatio(y, (i) => base[i - lag + maxLag]!, from, to);
    if (err < bestErr) {
      bestErr = err;
      best = lag;
    }
  }
  // fractional refinement (golden section on the continuous delay)
  const at = (d: number) => {
    const ref = tonesAt(rate, to, TONES, TONE_AMP, d);
    return errorRatio(y, (i) => ref[i]!, from, to);
  };
  let lo = best - 1;
  let hi = best + 1;
  const g = (Math.sqrt(5) - 1) / 2;
  for (let k = 0; k < 30; k++) {
    const m1 = hi - g * (hi - lo);
    const m2 = lo + g * (hi - lo);
    if (at(m1) < at(m2)) hi = m2;
    else lo = m1;
  }
  const delay = (lo + hi) / 2;
  return { db: -10 * Math.log10(Math.min(bestErr, at(delay))), delay };
}

function rmsOf(y: ArrayLike<number>, from: number): number {
  let s = 0;
  for (let i = from; i < y.length; i++) s += y[i]! * y[i]!;
  return Math.sqrt(s / Math.max(1, y.length - from));
}

/**
 * µs per call of fn: the median of rounds of ~40 ms each (after a warm-up), so that other
 * processes briefly taking the CPU do not skew the figure.
 */
function timeIt(fn: (k: number) => void, rounds = 15): number {
  let calls = 0;
  for (; calls < 300; calls++) fn(calls);
  let batch = 50;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn(calls++);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 40e6 || batch >= 1 << 20) break;
    batch = Math.max(batch * 2, Math.ceil((batch * 40e6) / Math.max(ns, 1)));
  }
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) fn(calls++);
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / batch);
  }
  per.sort((a, b) => a - b);
  return per[rounds >> 1]!;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---- resampler comparison ----------------------------------------------------------------------

interface Result {
  sinad: number;
  delay: number;
  us: number;
  /** worst attenuation and where; `floor`: the output rounded to silence (attenuation ≥ db) */
  oob?: { db: number; at: number; floor: boolean };
}

async function measure(c: Candidate, a: number, b: number): Promise<Result> {
  const frame = a / 50;
  const input = pcm(tonesAt(a, a * 2, TONES, TONE_AMP, 0));
  const { db, delay } = sinad(await runFrames(c, a, b, input), b);
  const timed = await c.make(a, b);
  const frames = input.length / frame;
  const us = timeIt((k) => {
    const i = (k % frames) * frame;
    timed(input.subarray(i, i + frame));
  });
  timed.dispose?.();
  const result: Result = { sinad: db, delay, us };
  if (b < a) {
    let worst = { db: Infinity, at: 0, floor: false };
    for (const f of OOB_TONES) {
      if (f >= a / 2) continue;
      const x = pcm(tonesAt(a, a, [f], 16000, 0));
      const y = await runFrames(c, a, b, x);
      // an output that rounds to all-zero PCM16 is reported at the quantisation floor
      const rmsOut = rmsOf(y, Math.round(b / 10));
      const floor = rmsOut < 1 / Math.sqrt(12);
      const att = 20 * Math.log10(rmsOf(x, 0) / Math.max(rmsOut, 1 / Math.sqrt(12)));
      if (att <= worst.db) worst = { db: att, at: f, floor };
    }
    result.oob = worst;
  }
  return result;
}

// ---- bridge paths ------------------------------------------------------------------------------

function inboundPath(): { total: number; parse: number } {
  const r = new StreamResampler(8000, 24000);
  const speech = pcm(tonesAt(8000, 8000, TONES, TONE_AMP, 0));
  const messages: string[] = [];
  for (let k = 0; k < 50; k++) {
    const payload = Buffer.from(encodeMulaw(speech.subarray(k * 160, k * 160 + 160))).toString('base64');
    messages.push(
      JSON.stringify({
        event: 'media',
        sequenceNumber: String(k + 2),
        streamSid: 'MZ' + 'a1b2c3d4'.repeat(4),
        media: { track: 'inbound', chunk: String(k + 1), timestamp: String(k * 20), payload },
      }),
    );
  }
  let pcm8 = new Int16Array(160);
  let sink = 0;
  const total = timeIt((k) => {
    const msg = JSON.parse(messages[k % 50]!) as { media: { payload: string } };
    const bytes = Buffer.from(msg.media.payload, 'base64');
    if (pcm8.length !== bytes.length) pcm8 = new Int16Array(bytes.length);
    decodeMulaw(bytes, pcm8);
    const y = r.process(pcm8);
    const out = Buffer.allocUnsafe(1 + y.byteLength);
    out[0] = 0x01; // audio tag; PCM16LE: this host is little-endian, so the bytes copy as is
    out.set(new Uint8Array(y.buffer, y.byteOffset, y.byteLength), 1);
    sink += out.length;
  });
  const parse = timeIt((k) => {
    sink += (JSON.parse(messages[k % 50]!) as { media: { payload: string } }).media.payload.length;
  });
  if (sink < 0) console.log(sink);
  return { total, parse };
}

function outboundPath(): number {
  const r = new StreamResampler(24000, 8000);
  const agent = pcm(tonesAt(24000, 24000, TONES, TONE_AMP, 0));
  const mu = new Uint8Array(256);
  const streamSid = 'MZ' + 'a1b2c3d4'.repeat(4);
  let sink = 0;
  const us = timeIt((k) => {
    const i = (k % 50) * 480;
    const y = r.process(agent.subarray(i, i + 480));
    encodeMulaw(y, mu);
    const payload = Buffer.from(mu.buffer, 0, y.length).toString('base64');
    sink += JSON.stringify({ event: 'media', streamSid, media: { payload } }).length;
  });
  if (sink < 0) console.log(sink);
  return us;
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`audio benchmark — node ${process.version}, ${process.arch}\n`);
  const checks: [string, boolean][] = [];
  for (const [a, b] of [
    [8000, 24000],
    [24000, 8000],
  ] as const) {
    const rows: string[][] = [];
    for (const c of CANDIDATES) {
      const r = await measure(c, a, b);
      rows.push([
        c.name,
        r.sinad.toFixed(1),
        r.delay.toFixed(2),
        r.oob ? `${r.oob.floor ? '≥' : ''}${r.oob.db.toFixed(1)} @${r.oob.at} Hz` : '-',
        r.us.toFixed(2),
      ]);
      if (c.name === 'StreamResampler (high)') {
        checks.push([`${a}→${b} SINAD ${r.sinad.toFixed(1)} dB ≥ ${TARGET_SINAD}`, r.sinad >= TARGET_SINAD]);
        checks.push([`${a}→${b} ${r.us.toFixed(2)} µs/frame ≤ ${TARGET_US}`, r.us <= TARGET_US]);
        if (r.oob)
          checks.push([`${a}→${b} out-of-band ${r.oob.db.toFixed(1)} dB ≥ ${TARGET_OOB}`, r.oob.db >= TARGET_OOB]);
      }
    }
    console.log(`${a} → ${b} Hz, 20 ms frames (${a / 50} samples in)`);
    console.log(table(['resampler', 'SINAD dB', 'delay', 'out-of-band dB (worst)', 'µs/frame'], rows));
    console.log();
  }
  const inbound = inboundPath();
  const outbound = outboundPath();
  console.log('bridge paths, per 20 ms frame');
  console.log(
    table(
      ['path', 'µs/frame'],
      [
        ['inbound: JSON.parse + base64 + μ-law decode + 8k→24k + 0x01 frame', inbound.total.toFixed(2)],
        ['  of which JSON.parse of the media message', inbound.parse.toFixed(2)],
        ['outbound: 24k→8k + μ-law encode + base64 + JSON.stringify', outbound.toFixed(2)],
      ],
    ),
  );
  console.log();
  const pass = checks.every(([, ok]) => ok);
  for (const [what, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'MISS'} ${what}`);
  console.log(
    `targets: SINAD ≥ ${TARGET_SINAD} dB both ways, out-of-band ≥ ${TARGET_OOB} dB (24k→8k), ` +
      `≤ ${TARGET_US} µs per 20 ms frame per direction → ${pass ? 'PASS' : 'FAIL'}  (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  if (!pass) process.exitCode = 1;
}

await main();
