/**
 * The engine's mouth: streams one utterance as 20 ms audio frames at real time, a little ahead of
 * the clock (like a real engine's send buffer), and can be cut off at once. Pacing is scheduled
 * against the utterance's start time, not chained delays, so timer jitter never accumulates.
 */
import { encodeAudioFrame } from '../../omni/framing.js';

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
  frameMs?: number;
  /** How far ahead of real time frames are sent. Default 60 ms. */
  leadMs?: number;
}

interface Playing {
  text: string;
  samples: Int16Array;
  sent: number;
  t0: number;
  timer: NodeJS.Timeout | undefined;
  resolve: (r: PlayResult) => void;
}

export class AgentSpeaker {
  private readonly frameSamples: number;
  private readonly leadMs: number;
  private current: Playing | undefined;

  constructor(private readonly send: (frame: Buffer) => void, private readonly rate: number, opts: SpeakerOptions = {}) {
    this.frameSamples = Math.round((rate * (opts.frameMs ?? 20)) / 1000);
    this.leadMs = opts.leadMs ?? 60;
  }

  get speaking(): boolean { return this.current !== undefined; }

  /** Plays `samples` (at the speaker's rate). A new utterance replaces one still playing. */
  play(text: string, samples: Int16Array): Promise<PlayResult> {
    this.interrupt();
    return new Promise<PlayResult>((resolve) => {
      this.current = { text, samples, sent: 0, t0: performance.now(), timer: undefined, resolve };
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
    const total = p.samples.length;
    const due = Math.min(total, Math.ceil(((elapsedMs + this.leadMs) * this.rate) / 1000));
    while (p.sent < due) {
      const end = Math.min(total, p.sent + this.frameSamples);
      this.send(encodeAudioFrame(p.samples.subarray(p.sent, end)));
      p.sent = end;
    }
    // The utterance is over when it has been *heard*, not when its last frame left.
    const durationMs = (total * 1000) / this.rate;
    if (p.sent >= total && elapsedMs >= durationMs) {
      this.finish(p, false);
      return;
    }
    const nextDueMs = p.sent >= total ? durationMs : (p.sent * 1000) / this.rate - this.leadMs;
    p.timer = setTimeout(this.pump, Math.max(1, nextDueMs - elapsedMs));
  };

  private finish(p: Playing, interrupted: boolean): PlayResult {
    clearTimeout(p.timer);
    this.current = undefined;
    const durationMs = (p.samples.length * 1000) / this.rate;
    const spokenMs = Math.min(durationMs, performance.now() - p.t0);
    const sentMs = (p.sent * 1000) / this.rate;
    const result: PlayResult = {
      interrupted, spokenMs, sentMs, spokenText: interrupted ? spokenPortion(p.text, spokenMs / durationMs) : p.text,
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
