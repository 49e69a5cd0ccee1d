import { FRAME } from './units.js';

export type PlayedResult = 'played' | 'interrupted' | 'timeout' | 'closed';

/**
 * A mark every 500 ms of audio sent. Pacing runs on the clock and the engine reports what was
 * actually spoken (`assistant_interrupted`), so periodic marks only keep the "heard" count of a
 * long reply current; the mark after a reply's last audio is what `whenPlayed` waits for.
 */
const MARK_EVERY_SAMPLES = 25 * FRAME;

interface PendingMark {
  seq: number;
  samples: number; // samples sent (this generation) when the mark was sent
}

interface Waiter {
  resolve: (r: PlayedResult) => void;
  timer: NodeJS.Timeout;
}

/**
 * What the caller has heard, as the leg's mark echoes confirm it, and who waits for it.
 *
 * Every mark is named `generation:seq`. A generation ends with `clear` (barge-in) or a new stream;
 * marks of an old one — Twilio echoes them right after `clear` — are ignored, so "played" always
 * means heard in the current generation.
 */
export class MarkLedger {
  private generation = 0;
  private seq = 0;
  private samplesSent = 0; // this generation
  /** samples sent since the last mark: what a new mark would confirm */
  samplesSinceMark = 0;
  private playedSamples = 0; // this generation, confirmed by marks
  private playedTotal = 0;
  private marks: PendingMark[] = [];
  private waiters: Waiter[] = [];
  /** waiters go ahead no earlier than this (the reply's settle time) */
  settleAt = 0;
  framesPlayed = 0;
  staleMarks = 0;

  /** `n` samples went out; true when a periodic mark is due after them. */
  sent(n: number): boolean {
    this.samplesSent += n;
    this.samplesSinceMark += n;
    return this.samplesSinceMark >= MARK_EVERY_SAMPLES;
  }

  /** The name of a mark confirming everything sent so far (the caller sends it after that audio). */
  nextMark(): string {
    const seq = ++this.seq;
    this.marks.push({ seq, samples: this.samplesSent });
    this.samplesSinceMark = 0;
    return `${this.generation}:${seq}`;
  }

  /** A mark echoed by the leg. Returns false for a stale (old generation) or unknown mark. */
  onMark(name: string): boolean {
    const colon = name.indexOf(':');
    const gen = Number(name.slice(0, colon));
    const seq = Number(name.slice(colon + 1));
    if (colon < 0 || gen !== this.generation) {
      this.staleMarks++;
      return false;
    }
    let idx = -1;
    for (let i = 0; i < this.marks.length; i++) if (this.marks[i]!.seq === seq) idx = i;
    if (idx < 0) return false;
    const m = this.marks[idx]!;
    this.playedTotal += m.samples - this.playedSamples;
    this.playedSamples = m.samples;
    this.framesPlayed = Math.round(this.playedTotal / FRAME);
    this.marks.splice(0, idx + 1);
    return true;
  }

  /** samples of this generation the caller has heard (confirmed by marks) */
  get heardSamples(): number {
    return this.playedSamples;
  }

  /** Nothing sent is unconfirmed and the settle time has passed; `idle`: nothing is left to send. */
  drained(now: number, idle: boolean): boolean {
    return idle && this.marks.length === 0 && now >= this.settleAt;
  }

  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  /** Resolves with what `settle` says, or 'timeout' after `timeoutMs`. */
  wait(timeoutMs: number): Promise<PlayedResult> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        resolve('timeout');
      }, timeoutMs);
      this.waiters.push({ resolve, timer });
    });
  }

  settle(result: PlayedResult): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      clearTimeout(w.timer);
      w.resolve(result);
    }
  }

  /**
   * A new generation: nothing sent before is pending. Waiters are told 'interrupted', unless
   * `keepWaiters` (a new stream: waiters that came while none was attached wait for what it plays).
   */
  newGeneration(keepWaiters = false): void {
    this.generation++;
    this.samplesSent = 0;
    this.playedSamples = 0;
    this.samplesSinceMark = 0;
    this.marks = [];
    this.settleAt = 0;
    if (!keepWaiters) this.settle('interrupted');
  }

  /** The stream went away: what was sent to it can never be confirmed. */
  lost(): void {
    this.marks = [];
    this.settle('interrupted');
  }
}
