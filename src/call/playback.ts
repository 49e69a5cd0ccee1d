import type { HoldPlayer } from '../audio/index.js';
import type { PaceClock, Paced } from './pace-clock.js';
import { HoldMix } from './playback/hold-mix.js';
import { MarkLedger, type PlayedResult } from './playback/mark-ledger.js';
import { OutboundQueue } from './playback/outbound-queue.js';
import { ReplyTracker, type PlaybackObserver, type ReplyStats } from './playback/reply-stats.js';
import { FRAME, SAMPLES_PER_MS } from './playback/units.js';

export type { PlayedResult } from './playback/mark-ledger.js';
export type { PlaybackObserver, ReplyStats } from './playback/reply-stats.js';

/** Where caller-bound audio goes: the leg's current stream (a LegMedia, src/call/leg.ts; the session binds it). */
export interface PlaybackSink {
  sendAudio(mulaw: Uint8Array): void;
  /** true while the leg's transport is backed up: frames then wait in the bounded queue */
  backlogged?(): boolean;
  sendMark(name: string): void;
  sendClear(): void;
}

/** At most this many frames (200 ms) go out in one media message. */
const MAX_BATCH_FRAMES = 10;

/**
 * The reply's last, partial frame goes out when the caller's playout is this close to reaching
 * it: one pacing period plus 10 ms for a late timer. Before that it waits for more audio.
 */
const END_AHEAD_MS = 30;

/**
 * A verb waiting for the agent's last words (`whenPlayed`) goes ahead once the caller's playout
 * has reached the end of the reply and stayed there this long: an engine that streams at real
 * time with no lead runs the playout dry between its chunks, and a verb sent mid-utterance must
 * not cut the rest of the utterance off.
 */
const REPLY_SETTLE_MS = 200;

export interface PlaybackOptions {
  /** how far ahead of real time audio is sent to the leg */
  leadMs: number;
  maxQueueMs?: number;
  /** largest start-of-reply delay the jitter buffer may learn (0: never delay). Default 0. */
  maxJitterMs?: number;
  /** the time base (ms); defaults to the clock's */
  now?: () => number;
  /** ticks this playback while it has something to do; one clock serves every call of the process */
  clock: PaceClock;
  onDrop?: (frames: number) => void;
  observer?: PlaybackObserver;
  /** hold audio started (true) or ended (false): by its time, the agent's audio, a barge-in or a cut */
  onHold?: (active: boolean) => void;
}

/**
 * Caller-bound audio of one call, paced to the leg no more than `leadMs` ahead of its playout, so
 * that a barge-in has little to discard. The end of a reply is decided by that playout clock
 * (its partial last frame goes out END_AHEAD_MS before the playout reaches it, never padded),
 * never by a gap between arrivals. The parts: playback/outbound-queue (resample, encode, queue),
 * mark-ledger (what was heard, generations, `whenPlayed`), reply-stats (replies, underruns, jitter
 * buffer), hold-mix (hold audio); this module paces and batches.
 */
export class Playback implements Paced {
  private readonly out: OutboundQueue;
  private readonly ledger = new MarkLedger();
  private readonly replies: ReplyTracker;
  private readonly hold: HoldMix;
  /** frames of one send, as one media message; filled in place through frame views */
  private readonly batch = new Uint8Array(FRAME * MAX_BATCH_FRAMES);
  private readonly batchFrames = Array.from({ length: MAX_BATCH_FRAMES }, (_, i) =>
    this.batch.subarray(i * FRAME, (i + 1) * FRAME),
  );
  /** batchViews[k] = the first k frames of the batch, made once */
  private readonly batchViews = Array.from({ length: MAX_BATCH_FRAMES + 1 }, (_, k) =>
    this.batch.subarray(0, k * FRAME),
  );
  private readonly clock: PaceClock;
  private sink: PlaybackSink | undefined;
  private playheadAt = 0; // when the caller will have heard everything sent (estimate)
  /** agent audio has arrived whose playout end has not been reached yet */
  private streaming = false;
  private closed = false;
  /** an operator cut the agent off (silence()): nothing more of it reaches the caller */
  private muted = false;
  private framesSent = 0;
  private clears = 0;

  constructor(private readonly opts: PlaybackOptions) {
    this.out = new OutboundQueue(opts.maxQueueMs ?? 120_000, opts.onDrop);
    this.replies = new ReplyTracker(opts.maxJitterMs ?? 0, opts.observer);
    this.hold = new HoldMix(opts.onHold);
    this.clock = opts.clock;
  }

  /** totals for the call record and metrics */
  get stats(): {
    framesSent: number;
    framesPlayed: number;
    staleMarks: number;
    clears: number;
    droppedBytes: number;
    underruns: number;
    underrunMs: number;
    replies: ReplyStats[];
  } {
    const { ledger, replies } = this;
    return {
      framesSent: this.framesSent,
      framesPlayed: ledger.framesPlayed,
      staleMarks: ledger.staleMarks,
      clears: this.clears,
      droppedBytes: this.out.droppedBytes,
      underruns: replies.underruns,
      underrunMs: replies.underrunMs,
      replies: replies.records,
    };
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : this.clock.now();
  }

  /** Binds a (new) stream of the leg: a new generation starts, nothing of the old one is pending. */
  attach(sink: PlaybackSink): void {
    this.sink = sink;
    // Waiters left at this point came while no stream was attached (detach() settled those of
    // the old one): they wait for what the new stream plays, nobody interrupted them.
    this.newGeneration(true);
    this.pump();
  }

  detach(): void {
    this.sink = undefined;
    // The next stream starts a new playout: audio after it does not continue this reply's.
    this.replies.detach();
    this.clock.leave(this);
    this.ledger.lost();
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** ms of audio queued here (not yet sent) */
  /** The caller hears the agent now: audio is queued here, or sent and not yet played out (estimate). */
  get audible(): boolean {
    return this.out.length > 0 || this.playheadAt > this.now();
  }

  get queuedMs(): number {
    return this.out.queuedMs;
  }

  /** The start-of-reply delay learned from underruns so far (ms). */
  get jitterBufferMs(): number {
    return this.replies.jitterBufferMs;
  }

  /** The engine announced an assistant turn: its next audio starts a new reply. */
  markTurn(callerEndAt?: number): void {
    this.replies.markTurn(callerEndAt);
  }

  /** Agent audio at the engine's output rate. */
  pushAgentAudio(pcm: Int16Array, rate: number): void {
    if (this.closed || this.muted || pcm.length === 0) return;
    if (this.hold.active) this.hold.fadeInto(this.out);
    const now = this.now(); // one clock read for the reply bookkeeping and the pacing
    const idle = this.sink !== undefined && this.out.length === 0;
    this.replies.noteArrival(now, this.streaming, this.playheadAt, idle, this.out.tailPosition);
    this.out.pushAgent(pcm, rate);
    this.streaming = true;
    this.pump(now);
  }

  /** 8 kHz audio the bridge makes itself (DTMF tones), queued after the agent's audio. */
  pushPcm8k(pcm8k: Int16Array): void {
    if (this.closed || this.muted) return;
    this.out.pushPcm8k(pcm8k);
    this.streaming = true; // its end is watched like a reply's, for the trailing mark
    this.pump();
  }

  /** Hold audio until `seconds` pass (or forever), the agent speaks again, or a barge-in. */
  startHold(player: HoldPlayer, seconds?: number): void {
    if (this.closed || this.muted) return;
    this.hold.start(player, seconds && seconds > 0 ? this.now() + seconds * 1000 : Number.POSITIVE_INFINITY);
    this.pump();
  }

  /** Fades hold audio out (no click); it ends by itself once the fade has been sent. */
  stopHold(): void {
    this.hold.stop();
  }

  get holding(): boolean {
    return this.hold.active;
  }

  /** Caller barged in: the leg drops its buffer (`clear`), we drop ours, the generation ends. */
  bargeIn(): void {
    this.out.clear();
    this.streaming = false;
    this.replies.dropReply();
    if (this.sink) {
      this.sink.sendClear();
      this.clears++;
    }
    this.newGeneration(false);
    // Hold music is not cut dead (a click): the caller hears its 40 ms fade-out instead.
    if (this.hold.active) {
      this.hold.fadeInto(this.out);
      this.pump();
    }
  }

  /**
   * An operator hangs up or transfers: the caller stops hearing the agent now. The leg drops its
   * buffer (`clear`), we drop ours and any hold audio, waiters learn 'interrupted', and agent
   * audio arriving later is dropped until unmute() (a transfer the leg refused: the call goes on).
   */
  silence(): void {
    this.muted = true;
    this.hold.cut(); // cut, not faded: the call is leaving the agent
    this.bargeIn();
  }

  unmute(): void {
    this.muted = false;
  }

  /** A mark echoed by the leg. Returns false for a stale (old generation) or unknown mark. */
  onMark(name: string): boolean {
    if (!this.ledger.onMark(name)) return false;
    this.checkWaiters(this.now());
    return true;
  }

  /** ms of this generation's audio the caller has actually heard (confirmed by marks). */
  get heardMs(): number {
    return this.ledger.heardSamples / SAMPLES_PER_MS;
  }

  /**
   * Resolves once everything queued so far has been played to the caller ('played'), or the
   * caller barged in over it ('interrupted'), or `timeoutMs` passed. A reply whose playout end
   * has not been reached counts as queued: a verb sent mid-utterance waits for the end of the
   * utterance, not just for the part that had arrived.
   */
  whenPlayed(timeoutMs: number): Promise<PlayedResult> {
    if (this.closed) return Promise.resolve('closed');
    if (this.isDrained(this.now())) return Promise.resolve('played');
    const played = this.ledger.wait(timeoutMs);
    // What was sent since the last mark is confirmed by a mark now; audio still streaming in
    // gets its mark when its playout end is reached (endOfAudio).
    if (this.sink && !this.streaming && this.ledger.samplesSinceMark > 0) this.sendMark(this.sink);
    if (this.sink) this.clock.join(this); // the settle time is watched on the clock
    return played;
  }

  close(): void {
    this.closed = true;
    this.clock.leave(this);
    this.streaming = false;
    this.ledger.settle('closed');
    this.sink = undefined;
    this.out.drop();
  }

  private isDrained(now: number): boolean {
    return this.ledger.drained(now, this.sink !== undefined && !this.streaming && this.out.length === 0);
  }

  private newGeneration(keepWaiters: boolean): void {
    this.playheadAt = 0;
    this.replies.resumeAt = 0;
    this.ledger.newGeneration(keepWaiters);
  }

  private checkWaiters(now: number): void {
    if (this.ledger.waiting && this.isDrained(now)) this.ledger.settle('played');
  }

  /** The pacing clock's tick. */
  tick(): void {
    this.pump();
  }

  /**
   * Sends what the leg may take now — frames while it holds less than `leadMs` of unplayed audio —
   * as one chunk (Twilio plays any size in order; RTP splits it), ends the reply when its playout is
   * about to run dry, and stays on the pacing clock while anything is left to do. Calling it at
   * any time is harmless.
   */
  private pump(now = this.now()): void {
    try {
      this.send(now);
    } catch (err) {
      // A failing sink must neither crash the process nor stop the other calls' audio on the same
      // tick. This call stops sending.
      this.clock.leave(this);
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'PlaybackSinkError');
    }
  }

  private send(now: number): void {
    const sink = this.sink;
    if (!sink || this.closed) {
      this.clock.leave(this);
      return;
    }
    const { out, ledger, replies, hold } = this;
    if (this.playheadAt < now) this.playheadAt = now;
    const backlogged = sink.backlogged?.() ?? false;
    const agentOpen = now >= replies.resumeAt;
    let batched = 0;
    while (!backlogged && this.playheadAt - now < this.opts.leadMs) {
      const slot = this.batchFrames[batched]!;
      if (agentOpen && out.read(slot)) {
        if (replies.unsent) replies.noteSent(now, this.playheadAt, out.consumedSamples - FRAME, out.consumedSamples);
      } else if (!(hold.active && hold.readFrame(now, slot))) {
        break;
      }
      batched++;
      this.framesSent++;
      this.playheadAt += FRAME / SAMPLES_PER_MS;
      // A mark follows the audio it counts, so the batch goes out first.
      const markDue = ledger.sent(FRAME);
      if (markDue || batched === MAX_BATCH_FRAMES) {
        sink.sendAudio(this.batchViews[batched]!);
        batched = 0;
        if (markDue) this.sendMark(sink);
      }
    }
    if (batched > 0) sink.sendAudio(this.batchViews[batched]!);
    if (this.streaming && agentOpen && !backlogged && out.length === 0 && this.playheadAt - now <= END_AHEAD_MS) {
      this.endOfAudio(sink, now);
    }
    this.checkWaiters(now);
    const waiting = ledger.waiting && now < ledger.settleAt;
    if (out.length > 0 || hold.active || this.streaming || waiting) this.clock.join(this);
    else this.clock.leave(this);
  }

  /**
   * The caller's playout is about to reach the end of what has arrived: the partial last frame
   * goes out as it is, and — when someone waits for it — a mark after it makes "everything was
   * played" observable. If more audio comes, it continues on the next sample.
   */
  private endOfAudio(sink: PlaybackSink, now: number): void {
    const mu = this.out.takePartialMulaw();
    const n = mu.length;
    if (n > 0) {
      const to = this.out.consumedSamples;
      if (this.replies.unsent) this.replies.noteSent(now, this.playheadAt, to - n, to);
      sink.sendAudio(mu);
      this.framesSent++;
      this.ledger.sent(n);
      this.playheadAt += n / SAMPLES_PER_MS;
    }
    this.streaming = false;
    this.replies.dryAt = this.playheadAt;
    this.ledger.settleAt = this.playheadAt + REPLY_SETTLE_MS;
    // Only a waiter needs the end confirmed: an engine at real time with no lead reaches this after
    // every frame, and a mark per frame would double the socket's messages.
    if (this.ledger.waiting && this.ledger.samplesSinceMark > 0) this.sendMark(sink);
  }

  private sendMark(sink: PlaybackSink): void {
    sink.sendMark(this.ledger.nextMark());
  }
}
