/**
 * The caller hears exactly what the agent said, however the engine chunks and paces its audio.
 *
 * A seeded generator draws hundreds of engine behaviours — chunks from 1 sample to 2 s (fixed or
 * varying), sent as one burst, at real time with or without lead, with jitter, with a pause — and
 * plays each through a Playback on a simulated clock whose ticks may run late. A model of Twilio
 * receives the media and plays it at real time. What it received must equal the offline
 * conversion of the engine's whole audio (one-block resample with the JavaScript kernel, μ-law by
 * alawmulaw): same length, SINAD ≥ 40 dB. Every moment the model's playout ran dry inside the
 * reply must be one where the bridge had already sent all the audio that had arrived.
 */
import alawmulaw from 'alawmulaw';
import { describe, expect, it } from 'vitest';
import { ManualPaceClock } from '../../../src/call/pace-clock.js';
import { Playback, type PlaybackSink } from '../../../src/call/playback.js';
import { Rng } from '../../helpers/fuzz.js';
import { offlineMulawConversion, sinadDb } from '../../helpers/audio.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed16);
const CASES = 200;

/** Twilio's outbound buffer, played at real time; records bytes and the moments it ran dry. */
class ModelTwilio implements PlaybackSink {
  readonly chunks: Uint8Array[] = [];
  total = 0;
  playhead = 0;
  started = false;
  /** dry spells: when the playout ran out, for how long, and how much had been sent by then */
  readonly gaps: { at: number; ms: number; sentBefore: number }[] = [];
  constructor(private readonly clock: ManualPaceClock) {}
  sendAudio(mu: Uint8Array): void {
    const t = this.clock.now();
    if (this.started && t > this.playhead + 1e-6)
      this.gaps.push({ at: this.playhead, ms: t - this.playhead, sentBefore: this.total });
    this.started = true;
    this.playhead = Math.max(this.playhead, t) + mu.length / 8;
    this.chunks.push(mu.slice());
    this.total += mu.length;
  }
  sendMark(): void {}
  sendClear(): void {}
  bytes(): Uint8Array {
    const out = new Uint8Array(this.total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

interface Arrival {
  at: number;
  start: number;
  end: number;
}
type Kind = 'burst' | 'realtime' | 'lead' | 'jitter' | 'pause';
const KINDS: Kind[] = ['burst', 'realtime', 'lead', 'jitter', 'pause'];

/** Speech-like test audio: a few partials under a moving envelope, plus a little noise. */
function signal(rng: Rng, n: number, rate: number): Int16Array {
  const partials = Array.from({ length: 1 + rng.int(3) }, () => ({
    f: 100 + rng.float() * 3300,
    a: 2000 + rng.float() * 6000,
    p: rng.float() * 6.28,
  }));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const env = 0.55 + 0.45 * Math.sin((2 * Math.PI * 3 * i) / rate);
    let v = 0;
    for (const q of partials) v += q.a * Math.sin((2 * Math.PI * q.f * i) / rate + q.p);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(env * v + (rng.float() - 0.5) * 200)));
  }
  return out;
}

/** Chunk sizes, 1 sample to 2 s, log-uniform: fixed for the whole reply or drawn per chunk. */
function chunking(rng: Rng, n: number, rate: number): number[] {
  const draw = () => Math.max(1, Math.round(Math.exp(rng.float() * Math.log(2 * rate))));
  const fixed = rng.float() < 0.5 ? draw() : 0;
  const sizes: number[] = [];
  for (let s = 0; s < n;) {
    const k = Math.min(n - s, fixed || draw());
    sizes.push(k);
    s += k;
  }
  return sizes;
}

/** When each chunk arrives (ms), for one pacing kind. Times never go backwards (TCP keeps order). */
function pacing(rng: Rng, kind: Kind, sizes: number[], rate: number): { arrivals: Arrival[]; jitter: number } {
  const lead = kind === 'lead' ? 20 + rng.float() * 180 : 0;
  const jitter = kind === 'jitter' ? rng.float() * 100 : 0;
  const pauseAt = rng.float() * 0.8;
  const pauseMs = kind === 'pause' ? 100 + rng.float() * 300 : 0;
  const total = sizes.reduce((a, b) => a + b, 0);
  const arrivals: Arrival[] = [];
  let s = 0;
  let last = 0;
  for (const k of sizes) {
    const due = (s * 1000) / rate;
    let at = kind === 'burst' ? s * 1e-4 : Math.max(0, due - lead);
    at += (rng.float() * 2 - 1) * jitter;
    if (s >= pauseAt * total) at += pauseMs;
    at = Math.max(at, last, 0);
    last = at;
    arrivals.push({ at, start: s, end: s + k });
    s += k;
  }
  return { arrivals, jitter };
}

interface Outcome {
  sinad: number;
  lengthOk: boolean;
  gaps: number;
  illegitimateGaps: number;
  underruns: number;
  firstFrameMs: number | undefined;
}

function runCase(seed: number, forceKind?: Kind): Outcome & { kind: Kind } {
  const rng = new Rng(seed);
  const rate = [8000, 16000, 24000][rng.int(3)]!;
  const kind = forceKind ?? KINDS[rng.int(KINDS.length)]!;
  const n = Math.round(rate * (0.3 + rng.float() * 2.7));
  const pcm = signal(rng, n, rate);
  const { arrivals } = pacing(rng, kind, chunking(rng, n, rate), rate);
  // a loaded event loop: ticks up to 10 ms late (the playout end is watched 30 ms ahead)
  const clock = new ManualPaceClock(() => rng.float() * 10);
  const pb = new Playback({ leadMs: [60, 200, 500][rng.int(3)]!, maxJitterMs: [0, 200][rng.int(2)]!, clock });
  const tw = new ModelTwilio(clock);
  pb.attach(tw);
  // cumulative 8 kHz samples the arrivals up to each one convert to (ceil: the resampler's count)
  let arrivedIn = 0;
  const arrivedOutAt: { at: number; out: number }[] = [];
  for (const a of arrivals) {
    clock.advanceTo(a.at);
    pb.pushAgentAudio(pcm.subarray(a.start, a.end), rate);
    arrivedIn += a.end - a.start;
    arrivedOutAt.push({ at: a.at, out: Math.ceil((arrivedIn * 8000) / rate) });
  }
  clock.advanceTo(arrivals.at(-1)!.at + 3000 + n / 8); // everything drains
  const got = alawmulaw.mulaw.decode(tw.bytes());
  const ref = offlineMulawConversion(pcm, rate);
  // A dry spell is legitimate only if, when it began, all audio that had arrived was sent.
  const arrivedBy = (t: number) => arrivedOutAt.filter((x) => x.at <= t).at(-1)?.out ?? 0;
  const illegitimate = tw.gaps.filter((g) => g.sentBefore < arrivedBy(g.at - 1e-6));
  pb.close();
  return {
    kind,
    sinad: sinadDb(ref, got),
    lengthOk: got.length === ref.length,
    gaps: tw.gaps.filter((g) => g.ms > 1).length,
    illegitimateGaps: illegitimate.length,
    underruns: pb.stats.underruns,
    firstFrameMs: pb.stats.replies[0]?.firstFrameMs,
  };
}

describe('playback fidelity over any chunking and pacing', () => {
  it(`sends exactly the offline conversion of the whole reply (${CASES} seeded chunkings and pacings)`, () => {
    const failures: string[] = [];
    const worst = { sinad: Number.POSITIVE_INFINITY };
    for (let c = 0; c < CASES; c++) {
      const seed = SEED + c;
      const o = runCase(seed);
      worst.sinad = Math.min(worst.sinad, o.sinad);
      if (!o.lengthOk || o.sinad < 40 || o.illegitimateGaps > 0)
        failures.push(`seed ${seed} (${o.kind}): ${JSON.stringify(o)}`);
    }
    expect(failures, failures.slice(0, 5).join('\n')).toEqual([]);
    expect(worst.sinad).toBeGreaterThanOrEqual(40);
  }, 120_000);

  it('never lets the playout run dry when the engine keeps up: bursts and real time with a lead', () => {
    for (let c = 0; c < 60; c++) {
      for (const kind of ['burst', 'lead'] as const) {
        const o = runCase(SEED + 1000 + c, kind);
        expect(o.gaps, `seed ${SEED + 1000 + c} ${kind}`).toBe(0);
        expect(o.underruns).toBe(0);
        expect(o.firstFrameMs).toBe(0); // nothing held back when nothing was learned
      }
    }
  });

  it('an engine at real time with no lead, however it chunks, plays without a gap', () => {
    for (let c = 0; c < 60; c++) {
      const o = runCase(SEED + 2000 + c, 'realtime');
      expect(o.gaps, `seed ${SEED + 2000 + c}`).toBe(0);
      expect(o.underruns).toBe(0);
    }
  });

  it('counts an underrun when the engine falls behind real time mid-reply (a pause), and sends no garbage', () => {
    let underruns = 0;
    for (let c = 0; c < 40; c++) {
      const o = runCase(SEED + 3000 + c, 'pause');
      expect(o.sinad).toBeGreaterThanOrEqual(40);
      expect(o.illegitimateGaps).toBe(0);
      if (o.gaps > 0) expect(o.underruns).toBeGreaterThan(0);
      underruns += o.underruns;
    }
    expect(underruns).toBeGreaterThan(0);
  });

  it('with playout_jitter_max_ms set, later replies start behind their first audio by the lateness learned; by default never', () => {
    const firstFrames = (maxJitterMs: number) => {
      const clock = new ManualPaceClock();
      const pb = new Playback({ leadMs: 200, maxJitterMs, clock });
      pb.attach(new ModelTwilio(clock));
      const audio = new Int16Array(800).fill(1000); // 100 ms at 8 kHz
      pb.pushAgentAudio(audio, 8000);
      clock.advanceTo(150); // the playout ran dry at 100 ms: the engine is 50 ms late
      pb.pushAgentAudio(audio, 8000);
      clock.advanceTo(2000); // a new reply, long after
      pb.pushAgentAudio(audio, 8000);
      clock.advanceTo(3000);
      const r = pb.stats.replies.map((x) => x.firstFrameMs);
      pb.close();
      return { underruns: pb.stats.underruns, replies: r, learned: pb.jitterBufferMs };
    };
    const off = firstFrames(0);
    expect(off).toEqual({ underruns: 1, replies: [0, 0], learned: 0 });
    const on = firstFrames(200);
    expect(on.underruns).toBe(1);
    expect(on.learned).toBe(70); // 50 ms late + 20
    expect(on.replies[1]).toBeGreaterThanOrEqual(70);
    expect(on.replies[1]).toBeLessThanOrEqual(90); // the next 20 ms tick after the delay
    expect(firstFrames(40).learned).toBe(40); // capped
  });
});
