import type { Baresip } from './baresip.js';

/** What a baresip call heard, measured as the Twilio simulator does (20 ms frames, by their peak). */

const RATE = 8000;
/** a 20 ms frame whose peak reaches this is audible (the Twilio simulator's threshold) */
const AUDIBLE_PEAK = 400;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the caller hears, read from baresip's receive dump of its current call as it grows, 20 ms
 * frame by frame: how many frames were audible and when the last one was, on the dump's own clock.
 */
export class Ear {
  audibleFrames = 0;
  lastAudibleMs = Number.NEGATIVE_INFINITY;
  nowMs = 0;
  private file = -1;
  private done = 0;

  constructor(private readonly ua: Baresip) {}

  poll(): void {
    const dumps = this.ua.dumps('dec');
    if (dumps.length === 0) return;
    if (dumps.length - 1 !== this.file) {
      // a new call (the transfer's): its own clock from 0
      this.file = dumps.length - 1;
      this.done = 0;
      this.lastAudibleMs = Number.NEGATIVE_INFINITY;
    }
    const pcm = dumps[this.file]!.pcm;
    const frame = RATE / 50;
    for (; this.done + frame <= pcm.length; this.done += frame) {
      let peak = 0;
      for (let i = this.done; i < this.done + frame; i++) peak = Math.max(peak, Math.abs(pcm[i]!));
      if (peak >= AUDIBLE_PEAK) {
        this.audibleFrames++;
        this.lastAudibleMs = ((this.done + frame) * 1000) / RATE;
      }
    }
    this.nowMs = (this.done * 1000) / RATE;
  }

  /** Once the agent has spoken (past `sinceFrames`) and then been quiet `quietMs`; false after `waitMs`. */
  async agentSilent(quietMs: number, sinceFrames: number, waitMs: number, live: () => boolean): Promise<boolean> {
    const until = Date.now() + waitMs;
    while (live() && Date.now() < until) {
      this.poll();
      if (this.audibleFrames > sinceFrames && this.nowMs - this.lastAudibleMs >= quietMs) return true;
      await sleep(20);
    }
    return false;
  }
}

/** Peak-audible 20 ms frames of `pcm`, in ms: how much speech a recording holds. */
export function audibleMs(pcm: Int16Array, rate: number): number {
  const frame = rate / 50;
  let n = 0;
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    let peak = 0;
    for (let i = at; i < at + frame; i++) peak = Math.max(peak, Math.abs(pcm[i]!));
    if (peak >= AUDIBLE_PEAK) n++;
  }
  return n * 20;
}

/** PCM16LE byte chunks as one run of samples. */
export function pcm16(chunks: Buffer[]): Int16Array {
  const all = Buffer.concat(chunks);
  const out = new Int16Array(all.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = all.readInt16LE(2 * i);
  return out;
}

export function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
