/**
 * The phase of one call (CallSession.phase): where the call is in its life, as one value with the
 * allowed moves in one table. The console's state, the verbs' locks and the session's guards read
 * it; nothing rebuilds it from other fields. What the agent is doing inside a phase (greeting,
 * speaking, a tool running) is not a phase: the playback and the tools know that.
 *
 * - `connecting`: the session exists and its engine starts; no media stream yet (a pre-connect
 *   at the webhook waits here; a call that starts with its stream passes through at once).
 * - `streaming`: a media stream is attached and the agent has the caller.
 * - `on_hold`: streaming, and the caller hears hold audio (`play_hold`, an engine reconnect, a
 *   missed reply deadline); it ends by itself, and the call is `streaming` again.
 * - `awaiting_restart`: the stream ended and the leg expects its restart (Twilio `<Play digits>`):
 *   the engine gets silence, the wait is bounded, the next stream continues the call.
 * - `transferring`: a transfer owns the call (the agent's last words, then the leg's hand-off); a
 *   refused or interrupted one gives the call back to the agent.
 * - `ending`: a verb owns the call's end (end_call, an operator's hang-up, the fallback).
 * - `ended`: over, with its outcome (src/call/outcome.ts). Nothing leaves it.
 */
export type CallPhase =
  'connecting' | 'streaming' | 'on_hold' | 'awaiting_restart' | 'transferring' | 'ending' | 'ended';

export const CALL_PHASES: readonly CallPhase[] = [
  'connecting',
  'streaming',
  'on_hold',
  'awaiting_restart',
  'transferring',
  'ending',
  'ended',
];

/** Every move a call may make; anything else is a bug, refused by CallPhaseState.to. */
export const PHASE_TRANSITIONS: Readonly<Record<CallPhase, readonly CallPhase[]>> = {
  // a stream attaches (on hold if hold audio already plays); a verb, a fallback or a final status ends it first
  connecting: ['streaming', 'on_hold', 'transferring', 'ending', 'ended'],
  streaming: ['on_hold', 'awaiting_restart', 'transferring', 'ending', 'ended'],
  on_hold: ['streaming', 'awaiting_restart', 'transferring', 'ending', 'ended'],
  // the next stream comes (hold audio may already play), or the call ends without it
  awaiting_restart: ['streaming', 'on_hold', 'transferring', 'ending', 'ended'],
  // a refused or interrupted transfer gives the call back; the fallback may hang up after one
  transferring: ['streaming', 'on_hold', 'connecting', 'awaiting_restart', 'ending', 'ended'],
  // a verb that failed gives the call back; otherwise only its end follows
  ending: ['streaming', 'on_hold', 'connecting', 'awaiting_restart', 'ended'],
  ended: [],
};

export function canMove(from: CallPhase, to: CallPhase): boolean {
  return PHASE_TRANSITIONS[from].includes(to);
}

/** Phases in which the call still has the agent and may stream (not a verb's, not over). */
export function withAgent(phase: CallPhase): boolean {
  return phase === 'connecting' || phase === 'streaming' || phase === 'on_hold' || phase === 'awaiting_restart';
}

export interface PhaseObserver {
  /** an allowed move happened */
  moved?(from: CallPhase, to: CallPhase): void;
  /** a move the table does not allow was asked for and refused: the phase stays `from` */
  refused(from: CallPhase, to: CallPhase): void;
}

/**
 * The one mutable phase of a call. `to` moves it when the table allows and refuses (reports,
 * never throws) otherwise; asking for the current phase is a no-op, so a caller need not check.
 */
export class CallPhaseState {
  private current: CallPhase = 'connecting';
  /** moves refused so far (each is a bug somewhere; the observer logs it) */
  refusals = 0;

  constructor(private readonly observer: PhaseObserver) {}

  get now(): CallPhase {
    return this.current;
  }

  /** Moves to `next`; false when the table refused it. */
  to(next: CallPhase): boolean {
    const from = this.current;
    if (from === next) return true;
    if (!canMove(from, next)) {
      this.refusals++;
      this.observer.refused(from, next);
      return false;
    }
    this.current = next;
    this.observer.moved?.(from, next);
    return true;
  }
}
