/**
 * Audio that arrives this soon after the playout ran dry, with no new turn announced, continues
 * the same reply: the engine fell behind real time (an underrun). Later audio starts a new reply.
 */
const UNDERRUN_WINDOW_MS = 500;

/** After an underrun of g ms, replies start g + this much behind their first audio. */
const JITTER_MARGIN_MS = 20;

/** Per-reply figures kept for the call record. */
const MAX_REPLY_RECORDS = 100;

/** What the caller experienced of one agent reply. */
export interface ReplyStats {
  /** the engine's first audio of the reply → its first audio sent to the leg */
  firstFrameMs?: number;
  /** the caller's end of speech (as the engine reported it) → the reply's first audio played */
  voiceToVoiceMs?: number;
  /** times the caller's playout ran dry inside the reply, and the silence that caused */
  underruns: number;
  underrunMs: number;
}

export interface PlaybackObserver {
  firstFrame?(delayMs: number, voiceToVoiceMs: number | undefined): void;
  underrun?(silenceMs: number): void;
}

interface ReplyState extends ReplyStats {
  arrivedAt: number;
  callerEndAt?: number;
  sent: boolean;
  /** where the reply's first sample sits in the caller-bound stream (OutboundQueue positions) */
  startPos: number;
}

/**
 * Where agent replies begin and end, what the caller experienced of each, and the adaptive jitter
 * buffer: when the playout runs dry inside a reply (an underrun) and `maxJitterMs` allows it,
 * later replies start behind their first audio by the lateness learned. All times are the
 * playback's (ms); the playback tells this when audio arrives, leaves and runs dry.
 */
export class ReplyTracker {
  private reply: ReplyState | undefined;
  /**
   * Replies that arrived and have not been heard yet, oldest first. More than one when a new turn
   * starts before the last one's audio left (no stream attached yet, a backlog): each is matched to
   * the send that carries its own first sample, by stream position.
   */
  private pending: ReplyState[] = [];
  /** the engine announced a new assistant turn: the next audio starts a new reply */
  private turnPending: { callerEndAt?: number } | undefined;
  /** when the last reply's playout ran (or will run) dry */
  dryAt = 0;
  /** agent audio is not sent before this (the jitter buffer's start delay) */
  resumeAt = 0;
  private jitterMs = 0;
  underruns = 0;
  underrunMs = 0;
  readonly records: ReplyStats[] = [];

  constructor(
    private readonly maxJitterMs: number,
    private readonly observer: PlaybackObserver | undefined,
  ) {}

  /** the start-of-reply delay learned from underruns so far (ms) */
  get jitterBufferMs(): number {
    return this.jitterMs;
  }

  /** a reply has arrived of which nothing has been sent yet */
  get unsent(): boolean {
    return this.pending.length > 0;
  }

  markTurn(callerEndAt?: number): void {
    this.turnPending = { callerEndAt };
  }

  /**
   * Agent audio arrived at `now`: the start of a new reply (a turn was announced, or the last
   * reply's playout ended a while ago), the continuation of the current one, or its continuation
   * after the caller's playout ran dry — an underrun. `streaming`: the current reply's playout end
   * has not been reached; `playheadAt`: when everything sent will have played; `outputIdle`: a
   * stream is attached and nothing is queued for it.
   */
  noteArrival(now: number, streaming: boolean, playheadAt: number, outputIdle: boolean, startPos: number): void {
    const reply = this.reply;
    if (
      reply === undefined ||
      this.turnPending !== undefined ||
      (!streaming && now - this.dryAt > UNDERRUN_WINDOW_MS)
    ) {
      this.startReply(now, playheadAt, startPos);
      return;
    }
    const dryFor = now - playheadAt;
    // Dry means everything sent has been played while nothing was held back on purpose.
    if (reply.sent && outputIdle && dryFor > 1 && now >= this.resumeAt) {
      reply.underruns++;
      reply.underrunMs += dryFor;
      this.underruns++;
      this.underrunMs += dryFor;
      this.observer?.underrun?.(dryFor);
      // Learn the lateness: later replies start that far behind their first audio (capped).
      this.jitterMs = Math.min(this.maxJitterMs, Math.max(this.jitterMs, Math.ceil(dryFor) + JITTER_MARGIN_MS));
      this.resumeAt = now + this.jitterMs;
    }
  }

  private startReply(now: number, playheadAt: number, startPos: number): void {
    const turn = this.turnPending;
    this.turnPending = undefined;
    const reply: ReplyState = {
      arrivedAt: now,
      callerEndAt: turn?.callerEndAt,
      sent: false,
      startPos,
      underruns: 0,
      underrunMs: 0,
    };
    this.reply = reply;
    // Bounded like the records: a reply this far back that was never sent is never attributed.
    if (this.pending.length >= MAX_REPLY_RECORDS) this.pending.shift();
    this.pending.push(reply);
    if (this.records.length >= MAX_REPLY_RECORDS) this.records.shift();
    this.records.push(reply);
    // Only a reply that starts on an idle playout waits for the jitter buffer; one that follows
    // audio still playing is already behind it.
    if (playheadAt <= now) this.resumeAt = now + this.jitterMs;
  }

  /**
   * Audio from stream position `fromPos` up to `toPos` (exclusive) leaves now; its first sample starts
   * playing at `playAt` (8 samples a ms). Every waiting reply whose first sample is in it, or was
   * dropped for space before it, is heard from here.
   */
  noteSent(now: number, playAt: number, fromPos: number, toPos: number): void {
    const pending = this.pending;
    let n = 0;
    while (n < pending.length && pending[n]!.startPos < toPos) {
      const reply = pending[n]!;
      reply.sent = true;
      reply.firstFrameMs = now - reply.arrivedAt;
      const heardAt = playAt + Math.max(0, reply.startPos - fromPos) / 8;
      if (reply.callerEndAt !== undefined) reply.voiceToVoiceMs = heardAt - reply.callerEndAt;
      this.observer?.firstFrame?.(reply.firstFrameMs, reply.voiceToVoiceMs);
      n++;
    }
    if (n > 0) pending.splice(0, n);
  }

  /** Barge-in: the current reply is over, and nothing queued will be heard (the records stay). */
  dropReply(): void {
    this.reply = undefined;
    this.pending.length = 0;
  }

  /** The stream went away: audio after the next stream's start does not continue a reply already heard. */
  detach(): void {
    if (this.reply?.sent) this.reply = undefined;
  }
}
