/**
 * The engine's mouth: streams one utterance as its pacing profile says (pacing.ts: 20 ms frames a
 * little ahead of real time by default, or chunks of any size from a timer, bursts, jitter,
 * pauses, samples split across messages), and can be cut off at once. Sending is scheduled against
 * the utterance's start time, not chained delays, so timer jitter never accumulates.
 */
import { TAG_AUDIO } from '../../omni/framing.js';
import { type PacingProfile, type PlannedChunk, type Uniform, parsePacing, planChunks } from './pacing.js';

export interface PlayResult {
  interrupted: boolean;
  /** Audio time that had been played (at real time) when the utterance ended. */
  spokenMs: number;
  /** The words of the text in proportion to `spokenMs`, cut on a word boundary. */
  spokenText: string;
  /** Audio actually put on the wire, including the lead. */
  sentMs: number;
}

export interface SpeakerOptions {
  /** Default: 'realtime' (20 ms frames, 60 ms ahead of real time). */
  pacing?: PacingProfile;
  /** Jitter source (seeded in tests). */
  random?: Uniform;
}

interface Playing {
  text: string;
  bytes: Buffer;
  plan: PlannedChunk[];
  next: number;
  /** bytes put on the wire */
  sent: number;
  /** when the last of it has been heard, ms after t0 */
  endMs: number;
  t0: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: PlayResult) => void;
}

export class AgentSpeaker {
  private readonly pacing: PacingProfile;
  private readonly random: Uniform;
  private current: Playing | undefined;

  constructor(
    private readonly send: (frame: Buffer) => void,
    private readonly rate: number,
    opts: SpeakerOptions = {},
  ) {
    this.pacing = opts.pacing ?? parsePacing('realtime');
    this.random = opts.random ?? Math.random;
  }

  get speaking(): boolean {
    return this.current !== undefined;
  }

  /** Plays `samples` (at the speaker's rate). A new utterance replaces one still playing. */
  play(text: string, samples: Int16Array): Promise<PlayResult> {
    this.interrupt();
    const plan = planChunks(samples.length, this.rate, this.pacing, this.random);
    const durationMs = (samples.length * 1000) / this.rate;
    const last = plan.at(-1);
    // Heard to the end: the audio's own length, or later when a pause or jitter pushed it back.
    const endMs = Math.max(durationMs, last ? last.atMs + ((last.end - last.start) * 500) / this.rate : 0);
    const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
    return new Promise<PlayResult>((resolve) => {
      this.current = { text, bytes, plan, next: 0, sent: 0, endMs, t0: performance.now(), timer: undefined, resolve };
      this.pump();
    });
  }

  /** Stops at once: no frame of this utterance is sent after this call. Undefined when silent. */
  interrupt(): PlayResult | undefined {
    const p = this.current;
    if (!p) return undefined;
    return this.finish(p, true);
  }

  private readonly pump = (): void => {
    const p = this.current;
    if (!p) return;
    p.timer = undefined;
    const elapsedMs = performance.now() - p.t0;
    while (p.next < p.plan.length && p.plan[p.next]!.atMs <= elapsedMs) {
      const c = p.plan[p.next++]!;
      const frame = Buffer.allocUnsafe(1 + c.end - c.start);
      frame[0] = TAG_AUDIO;
      p.bytes.copy(frame, 1, c.start, c.end);
      this.send(frame);
      p.sent = c.end;
    }
    // The utterance is over when it has been *heard*, not when its last chunk left.
    if (p.next >= p.plan.length && elapsedMs >= p.endMs) {
      this.finish(p, false);
      return;
    }
    const nextDueMs = p.next < p.plan.length ? p.plan[p.next]!.atMs : p.endMs;
    p.timer = setTimeout(this.pump, Math.max(1, nextDueMs - elapsedMs));
  };

  private finish(p: Playing, interrupted: boolean): PlayResult {
    clearTimeout(p.timer);
    this.current = undefined;
    const durationMs = (p.bytes.length * 500) / this.rate;
    const spokenMs = Math.min(durationMs, performance.now() - p.t0);
    const sentMs = (p.sent * 500) / this.rate;
    const result: PlayResult = {
      interrupted,
      spokenMs,
      sentMs,
      spokenText: interrupted ? spokenPortion(p.text, spokenMs / durationMs) : p.text,
    };
    p.resolve(result);
    return result;
  }
}

/** The leading words of `text` that fit in `fraction` of its duration. */
export function spokenPortion(text: string, fraction: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const n = Math.floor(words.length * Math.max(0, Math.min(1, fraction)));
  return words.slice(0, n).join(' ');
}
