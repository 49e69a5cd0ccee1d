/**
 * The reply deadline: an engine that is connected and has said hello, but does not
 * speak while the caller waits for it, must not leave the caller in dead air.
 *
 * "The caller waits" (docs/decisions.md, "Engine deadlines"): a reply is *owed* from the moment
 * the greeting is due (the agent has a greeting and the engine said hello), or the engine reports
 * the caller's turn finished (a final user transcript: the caller's end of speech as the engine's
 * endpointer saw it) while the agent is not speaking. Agent audio pays the debt. While a reply is owed, the clock restarts on every
 * sign of the engine working (any event but telemetry, warnings, errors and echoes; a caller
 * partial transcript, i.e. the caller still speaking), and it does not run at all while something
 * legitimate explains the silence (`excuse()`: a tool running, hold, digit collection, a verb that
 * owns the call, no media stream, the engine not up): when that ends, the engine gets the whole
 * timeout again. Silence in which nobody owes anything (the agent asked, the caller is thinking)
 * is never timed.
 *
 * Past the timeout: `onMissed` (the session starts hold audio), then `holdMs` in which only agent
 * audio rescues the call (`onRecovered`), then `onGiveUp` (the agent's fallback).
 *
 * Cheap on the hot path: agent audio calls `answered()`, one comparison while nothing is owed;
 * events only move a timestamp; a timer ticks (every 200 ms at most) only while a reply is owed.
 */
import type { OmniEvent } from '../omni/events.js';

export type OwedBy = 'greeting' | 'caller_turn';

export interface ReplyWatchOptions {
  /** 0 = no reply deadline */
  timeoutMs: number;
  /** hold audio before the fallback; 0 = the fallback at once */
  holdMs: number;
  /** why the silence is legitimate now, or undefined when the caller is simply waiting */
  excuse: () => string | undefined;
  /** the agent's words are still being played: a caller turn now is a backchannel, not a question */
  agentSpeaking?: () => boolean;
  onMissed: (e: { owedBy: OwedBy; waitedMs: number }) => void;
  onRecovered: (e: { owedBy: OwedBy; lateMs: number }) => void;
  onGiveUp: (e: { owedBy: OwedBy }) => void;
  now?: () => number;
}

/** While a reply is owed, the excuse is looked at this often (its end restarts the full timeout). */
const EXCUSE_POLL_MS = 200;

type State = 'idle' | 'owed' | 'grace' | 'stopped';

export class ReplyWatch {
  private state: State = 'idle';
  private owedBy: OwedBy = 'greeting';
  /** when the clock last (re)started */
  private since = 0;
  private excused = false;
  private missedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ReplyWatchOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** A reply is owed from now (unless one already is: the earlier debt keeps its clock). */
  owe(by: OwedBy): void {
    if (this.opts.timeoutMs <= 0 || this.state !== 'idle') return;
    this.state = 'owed';
    this.owedBy = by;
    this.since = this.now();
    this.excused = false;
    this.arm(this.pollMs());
  }

  /** Agent audio: the reply came (called per audio frame: one comparison when nothing is owed). */
  answered(): void {
    if (this.state === 'idle') return;
    if (this.state === 'grace')
      this.opts.onRecovered({ owedBy: this.owedBy, lateMs: Math.round(this.now() - this.missedAt) });
    if (this.state !== 'stopped') this.reset();
  }

  /** Nothing is owed any more (a new engine session after a reconnect owes nothing yet). */
  clear(): void {
    if (this.state === 'owed') this.reset();
  }

  /** Every engine event: owes, restarts the clock, or (telemetry, warnings, errors) neither. */
  onEvent(ev: OmniEvent): void {
    switch (ev.type) {
      case 'audio_position':
      case 'unknown':
      case 'dtmf_echo':
      case 'warning':
      case 'error':
      case 'session_end':
        return; // not a sign that a reply is on its way
      case 'configured':
        // The engine says it has no greeting (configured false, or config_ack ignoring it): none is owed.
        if (
          (ev.greeting === false || ev.ignored?.includes('greeting')) &&
          this.state === 'owed' &&
          this.owedBy === 'greeting'
        )
          this.reset();
        else this.touch();
        return;
      case 'transcript':
        if (ev.role === 'user' && ev.final) {
          // "uh-huh" over the agent's words owes nothing (a real interruption comes with a barge-in
          // that empties the playback first, and then its turn owes a reply).
          if (this.state === 'idle' && !this.opts.agentSpeaking?.()) this.owe('caller_turn');
          else this.touch();
          return;
        }
        this.touch();
        return;
      default:
        this.touch();
    }
  }

  stop(): void {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get owing(): boolean {
    return this.state === 'owed';
  }

  /** The engine is evidently at work: the clock starts again (the next tick sees it). */
  private touch(): void {
    if (this.state === 'owed') this.since = this.now();
  }

  private reset(): void {
    this.state = 'idle';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** While a reply is owed the excuse is looked at this often, so that its end restarts the clock. */
  private pollMs(): number {
    return Math.min(EXCUSE_POLL_MS, this.opts.timeoutMs);
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.check, Math.max(1, ms));
    this.timer.unref?.();
  }

  private readonly check = (): void => {
    this.timer = undefined;
    const now = this.now();
    if (this.state === 'grace') {
      this.state = 'idle';
      this.opts.onGiveUp({ owedBy: this.owedBy });
      return;
    }
    if (this.state !== 'owed') return;
    if (this.opts.excuse() !== undefined) {
      this.excused = true;
      this.since = now;
      this.arm(this.pollMs());
      return;
    }
    if (this.excused) {
      // The excuse has just ended: the engine gets the whole timeout from here.
      this.excused = false;
      this.since = now;
    }
    const left = this.since + this.opts.timeoutMs - now;
    if (left > 0) {
      this.arm(Math.min(left, this.pollMs()));
      return;
    }
    this.missedAt = now;
    const owedBy = this.owedBy;
    this.opts.onMissed({ owedBy, waitedMs: Math.round(now - this.since) });
    if (this.state !== 'owed') return; // onMissed ended the call
    if (this.opts.holdMs <= 0) {
      this.state = 'idle';
      this.opts.onGiveUp({ owedBy });
      return;
    }
    this.state = 'grace';
    this.arm(this.opts.holdMs);
  };
}
