import { CALL_RESAMPLER_QUALITY, Framer, StreamResampler, encodeMulaw, type HoldPlayer } from '../audio/index.js';
import { ByteRing } from './byte-ring.js';
import type { PaceClock, Paced } from './pace-clock.js';

/** Where caller-bound audio goes: the current Twilio stream (the session binds it). */
export interface PlaybackSink {
  sendAudio(mulaw: Uint8Array): void;
  /** true while the socket to Twilio is backed up: frames then wait in the bounded queue */
  backlogged?(): boolean;
  sendMark(name: string): void;
  sendClear(): void;
}

export type PlayedResult = 'played' | 'interrupted' | 'timeout' | 'closed';

const FRAME = 160; // 20 ms of 8 kHz μ-law
const SAMPLES_PER_MS = 8;
/**
 * A mark every 500 ms of audio sent. Pacing runs on the clock and the engine reports what was
 * actually spoken (`assistant_interrupted`), so periodic marks only keep the "heard" count of a
 * long reply current; the mark after a reply's last audio is what `whenPlayed` waits for.
 */
const MARK_EVERY_SAMPLES = 25 * FRAME;

/** At most this many frames (200 ms) go out in one media message. */
const MAX_BATCH_FRAMES = 10;

/**
 * The reply's last, partial frame goes out when the caller's playout is this close to reaching
 * it: one pacing period plus 10 ms for a late timer. Before that it waits for more audio.
 */
const END_AHEAD_MS = 30;

/**
 * Audio that arrives this soon after the playout ran dry, with no new turn announced, continues
 * the same reply: the engine fell behind real time (an underrun). Later audio starts a new reply.
 */
const UNDERRUN_WINDOW_MS = 500;

/**
 * A verb waiting for the agent's last words (`whenPlayed`) goes ahead once the caller's playout
 * has reached the end of the reply and stayed there this long: an engine that streams at real
 * time with no lead runs the playout dry between its chunks, and a verb sent mid-utterance must
 * not cut the rest of the utterance off.
 */
const REPLY_SETTLE_MS = 200;

/** After an underrun of g ms, replies start g + this much behind their first audio. */
const JITTER_MARGIN_MS = 20;

/** Per-reply figures kept for the call record. */
const MAX_REPLY_RECORDS = 100;

/** What the caller experienced of one agent reply. */
export interface ReplyStats {
  /** the engine's first audio of the reply → its first audio sent to Twilio */
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

interface PendingMark {
  seq: number;
  samples: number; // samples sent (this generation) when the mark was sent
}

interface ReplyState extends ReplyStats {
  arrivedAt: number;
  callerEndAt?: number;
  sent: boolean;
}

export interface PlaybackOptions {
  /** how far ahead of real time audio is sent to Twilio */
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
}

/**
 * Caller-bound audio of one call: resamples agent audio to 8 kHz, μ-law encodes it and paces it
 * to Twilio a little ahead of real time (`leadMs`), so that a barge-in has little to discard and
 * `clear` takes effect at once.
 *
 * Fidelity: the bytes sent to Twilio are exactly the μ-law of the engine's audio resampled as one
 * stream, however the engine chunks and paces it. Whole 20 ms frames go out as they are due; the
 * partial frame at the end of what has arrived waits for more audio until the caller's playout is
 * about to reach it (END_AHEAD_MS), and then goes out as it is — never padded — so a reply that
 * continues later continues on the very next sample. The end of a reply is decided by that
 * playout clock, never by a gap between arrivals. When the playout does run dry inside a reply
 * (the engine fell behind real time) that is an underrun: counted, and — when `maxJitterMs` allows
 * it — later replies start behind their first audio by what was learned (an adaptive jitter buffer).
 *
 * Ownership of what was played: every mark carries the playback generation (`g:seq`). A
 * generation ends with `clear` (barge-in) or with a new stream; marks of an old generation —
 * which Twilio echoes right after `clear` — are ignored, so "played" always means heard.
 */
export class Playback implements Paced {
  private resampler: StreamResampler | undefined;
  private readonly framer = new Framer(FRAME);
  private readonly queue: ByteRing;
  /** frames of one send, as one media message; filled in place through frame views */
  private readonly batch = new Uint8Array(FRAME * MAX_BATCH_FRAMES);
  private readonly batchFrames = Array.from({ length: MAX_BATCH_FRAMES }, (_, i) =>
    this.batch.subarray(i * FRAME, (i + 1) * FRAME),
  );
  /** batchViews[k] = the first k frames of the batch, made once */
  private readonly batchViews = Array.from({ length: MAX_BATCH_FRAMES + 1 }, (_, k) =>
    this.batch.subarray(0, k * FRAME),
  );
  private readonly muBuf = new Uint8Array(FRAME);
  private readonly clock: PaceClock;
  private sink: PlaybackSink | undefined;
  private generation = 0;
  private seq = 0;
  private samplesSent = 0; // this generation
  private samplesSinceMark = 0;
  private playedSamples = 0; // this generation, confirmed by marks
  private playedTotal = 0;
  private marks: PendingMark[] = [];
  private playheadAt = 0; // when Twilio will have played everything sent (estimate)
  /** agent audio has arrived whose playout end has not been reached yet */
  private streaming = false;
  /** when the last reply's playout ran (or will run) dry */
  private dryAt = 0;
  /** waiters on "played" go ahead no earlier than this (REPLY_SETTLE_MS after the dry point) */
  private settleAt = 0;
  private reply: ReplyState | undefined;
  /** the engine announced a new assistant turn: the next audio starts a new reply */
  private turnPending: { callerEndAt?: number } | undefined;
  /** agent audio is not sent before this (the jitter buffer's start delay) */
  private resumeAt = 0;
  private jitterMs = 0;
  private hold: HoldPlayer | undefined;
  private holdUntil = 0;
  private readonly holdPcm = new Int16Array(FRAME);
  private waiters: { resolve: (r: PlayedResult) => void; gen: number; timer: NodeJS.Timeout }[] = [];
  private closed = false;
  /** totals for the call record and metrics */
  stats = {
    framesSent: 0,
    framesPlayed: 0,
    staleMarks: 0,
    clears: 0,
    droppedBytes: 0,
    underruns: 0,
    underrunMs: 0,
    replies: [] as ReplyStats[],
  };

  constructor(private readonly opts: PlaybackOptions) {
    const maxBytes = Math.round((opts.maxQueueMs ?? 120_000) * SAMPLES_PER_MS);
    this.queue = new ByteRing(FRAME * 50, maxBytes);
    this.clock = opts.clock;
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : this.clock.now();
  }

  /** Binds a (new) Twilio stream: a new generation starts, nothing of the old one is pending. */
  attach(sink: PlaybackSink): void {
    this.sink = sink;
    // Waiters left at this point came while no stream was attached (detach() settled those of
    // the old one): they wait for what the new stream plays, nobody interrupted them.
    const waiting = this.waiters;
    this.waiters = [];
    this.newGeneration();
    for (const w of waiting) w.gen = this.generation;
    this.waiters = waiting;
    this.pump();
  }

  detach(): void {
    this.sink = undefined;
    // The next stream starts a new playout: audio after it does not continue this reply's.
    if (this.reply?.sent) this.reply = undefined;
    this.clock.leave(this);
    // What was sent to the old stream can no longer be confirmed; waiters on it learn so.
    this.marks = [];
    this.settleWaiters('interrupted');
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** ms of audio queued here (not yet sent) */
  get queuedMs(): number {
    return (this.queue.length + this.framer.buffered) / SAMPLES_PER_MS;
  }

  /** The start-of-reply delay learned from underruns so far (ms). */
  get jitterBufferMs(): number {
    return this.jitterMs;
  }

  /** The engine announced an assistant turn: its next audio starts a new reply. */
  markTurn(callerEndAt?: number): void {
    this.turnPending = { callerEndAt };
  }

  /** Agent audio at the engine's output rate. */
  pushAgentAudio(pcm: Int16Array, rate: number): void {
    if (this.closed || pcm.length === 0) return;
    if (this.hold) this.fadeHoldIntoQueue();
    if (!this.resampler || this.resampler.inRate !== rate)
      this.resampler = new StreamResampler(rate, 8000, { quality: CALL_RESAMPLER_QUALITY });
    const now = this.now(); // one clock read for the reply bookkeeping and the pacing
    this.noteArrival(now);
    this.enqueuePcm8k(this.resampler.process(pcm));
    this.streaming = true;
    this.pump(now);
  }

  /** 8 kHz audio the bridge makes itself (DTMF tones), queued after the agent's audio. */
  pushPcm8k(pcm8k: Int16Array): void {
    if (this.closed) return;
    this.framer.flush(this.enqueueFrameFn);
    this.enqueuePcm8k(pcm8k);
    this.framer.flush(this.enqueueFrameFn);
    this.streaming = true; // its end is watched like a reply's, for the trailing mark
    this.pump();
  }

  /** Hold audio until `seconds` pass (or forever), the agent speaks again, or a barge-in. */
  startHold(player: HoldPlayer, seconds?: number): void {
    if (this.closed) return;
    player.reset();
    this.hold = player;
    this.holdUntil = seconds && seconds > 0 ? this.now() + seconds * 1000 : Number.POSITIVE_INFINITY;
    this.pump();
  }

  /** Fades hold audio out (no click); it ends by itself once the fade has been sent. */
  stopHold(): void {
    if (this.hold && !this.hold.done) this.hold.fadeOut(40);
  }

  get holding(): boolean {
    return this.hold !== undefined;
  }

  /** Caller barged in: Twilio drops its buffer, we drop ours, the generation ends. */
  bargeIn(): void {
    this.framer.clear();
    this.queue.clear();
    this.streaming = false;
    this.reply = undefined;
    this.resampler?.reset();
    if (this.sink) {
      this.sink.sendClear();
      this.stats.clears++;
    }
    this.newGeneration();
    // Hold music is not cut dead (a click): the caller hears its 40 ms fade-out instead.
    if (this.hold) {
      this.fadeHoldIntoQueue();
      this.pump();
    }
  }

  private fadeHoldIntoQueue(): void {
    const hold = this.hold!;
    this.hold = undefined;
    hold.fadeOut(40);
    for (let i = 0; i < 4 && !hold.done; i++) {
      hold.read(this.holdPcm);
      this.enqueueFrame(this.holdPcm);
    }
  }

  /** A mark echoed by Twilio. Returns false for a stale (old generation) or unknown mark. */
  onMark(name: string): boolean {
    const colon = name.indexOf(':');
    const gen = Number(name.slice(0, colon));
    const seq = Number(name.slice(colon + 1));
    if (colon < 0 || gen !== this.generation) {
      this.stats.staleMarks++;
      return false;
    }
    let idx = -1;
    for (let i = 0; i < this.marks.length; i++) if (this.marks[i]!.seq === seq) idx = i;
    if (idx < 0) return false;
    const m = this.marks[idx]!;
    this.playedTotal += m.samples - this.playedSamples;
    this.playedSamples = m.samples;
    this.stats.framesPlayed = Math.round(this.playedTotal / FRAME);
    this.marks.splice(0, idx + 1);
    this.checkWaiters();
    return true;
  }

  /** ms of this generation's audio the caller has actually heard (confirmed by marks). */
  get heardMs(): number {
    return this.playedSamples / SAMPLES_PER_MS;
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
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        resolve('timeout');
      }, timeoutMs);
      this.waiters.push({ resolve, gen: this.generation, timer });
      // What was sent since the last mark is confirmed by a mark now; audio still streaming in
      // gets its mark when its playout end is reached (endOfAudio).
      if (this.sink && !this.streaming && this.samplesSinceMark > 0) this.sendMark(this.sink);
      if (this.sink) this.clock.join(this); // the settle time is watched on the clock
    });
  }

  close(): void {
    this.closed = true;
    this.clock.leave(this);
    this.streaming = false;
    this.settleWaiters('closed');
    this.sink = undefined;
    this.queue.clear();
  }

  private isDrained(now: number): boolean {
    return (
      this.sink !== undefined &&
      !this.streaming &&
      this.queue.length === 0 &&
      this.marks.length === 0 &&
      now >= this.settleAt
    );
  }

  private newGeneration(): void {
    this.generation++;
    this.samplesSent = 0;
    this.playedSamples = 0;
    this.samplesSinceMark = 0;
    this.marks = [];
    this.playheadAt = 0;
    this.resumeAt = 0;
    this.settleAt = 0;
    this.settleWaiters('interrupted');
  }

  private settleWaiters(result: PlayedResult): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      clearTimeout(w.timer);
      w.resolve(result);
    }
  }

  private checkWaiters(now = this.now()): void {
    if (this.waiters.length && this.isDrained(now)) this.settleWaiters('played');
  }

  /**
   * Decides what arriving agent audio is: the start of a new reply (a turn was announced, or the
   * last reply's playout ended a while ago), the continuation of the current one, or its
   * continuation after the caller's playout ran dry — an underrun.
   */
  private noteArrival(now: number): void {
    const reply = this.reply;
    if (
      reply === undefined ||
      this.turnPending !== undefined ||
      (!this.streaming && now - this.dryAt > UNDERRUN_WINDOW_MS)
    ) {
      this.startReply(now);
      return;
    }
    const dryFor = now - this.playheadAt;
    // Dry means everything sent has been played while nothing was held back on purpose.
    if (reply.sent && this.sink && dryFor > 1 && this.queue.length === 0 && now >= this.resumeAt) {
      reply.underruns++;
      reply.underrunMs += dryFor;
      this.stats.underruns++;
      this.stats.underrunMs += dryFor;
      this.opts.observer?.underrun?.(dryFor);
      // Learn the lateness: later replies start that far behind their first audio (capped).
      this.jitterMs = Math.min(
        this.opts.maxJitterMs ?? 0,
        Math.max(this.jitterMs, Math.ceil(dryFor) + JITTER_MARGIN_MS),
      );
      this.resumeAt = now + this.jitterMs;
    }
  }

  private startReply(now: number): void {
    const turn = this.turnPending;
    this.turnPending = undefined;
    this.reply = { arrivedAt: now, callerEndAt: turn?.callerEndAt, sent: false, underruns: 0, underrunMs: 0 };
    const replies = this.stats.replies;
    if (replies.length >= MAX_REPLY_RECORDS) replies.shift();
    replies.push(this.reply);
    // Only a reply that starts on an idle playout waits for the jitter buffer; one that follows
    // audio still playing is already behind it.
    if (this.playheadAt <= now) this.resumeAt = now + this.jitterMs;
  }

  /** The current reply's first audio leaves now and starts playing at `playAt`. */
  private noteFirstSent(now: number, playAt: number): void {
    const reply = this.reply;
    if (!reply || reply.sent) return;
    reply.sent = true;
    reply.firstFrameMs = now - reply.arrivedAt;
    if (reply.callerEndAt !== undefined) reply.voiceToVoiceMs = playAt - reply.callerEndAt;
    this.opts.observer?.firstFrame?.(reply.firstFrameMs, reply.voiceToVoiceMs);
  }

  private enqueuePcm8k(pcm8k: Int16Array): void {
    this.framer.push(pcm8k, this.enqueueFrameFn);
  }

  /** bound once: the agent-audio path runs 50 times a second per call and allocates no closure */
  private readonly enqueueFrameFn = (f: Int16Array): void => this.enqueueFrame(f);

  private enqueueFrame(frame: Int16Array): void {
    encodeMulaw(frame, this.muBuf);
    const before = this.queue.dropped;
    this.queue.write(this.muBuf);
    const dropped = this.queue.dropped - before;
    if (dropped > 0) {
      this.stats.droppedBytes += dropped;
      this.opts.onDrop?.(Math.ceil(dropped / FRAME));
    }
  }

  /** The pacing clock's tick. */
  tick(): void {
    this.pump();
  }

  /**
   * Sends what Twilio may take now — frames while it holds less than `leadMs` of unplayed audio —
   * as one media message (Twilio plays any size in order), ends the reply when its playout is
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
    if (this.playheadAt < now) this.playheadAt = now;
    const backlogged = sink.backlogged?.() ?? false;
    const agentOpen = now >= this.resumeAt;
    let batched = 0;
    while (!backlogged && this.playheadAt - now < this.opts.leadMs) {
      const slot = this.batchFrames[batched]!;
      if (agentOpen && this.queue.read(slot)) {
        if (this.reply && !this.reply.sent) this.noteFirstSent(now, this.playheadAt);
      } else if (!(this.hold && this.readHoldFrame(now, slot))) {
        break;
      }
      batched++;
      this.stats.framesSent++;
      this.samplesSent += FRAME;
      this.samplesSinceMark += FRAME;
      this.playheadAt += FRAME / SAMPLES_PER_MS;
      // A mark follows the audio it counts, so the batch goes out first.
      const markDue = this.samplesSinceMark >= MARK_EVERY_SAMPLES;
      if (markDue || batched === MAX_BATCH_FRAMES) {
        sink.sendAudio(this.batchViews[batched]!);
        batched = 0;
        if (markDue) this.sendMark(sink);
      }
    }
    if (batched > 0) sink.sendAudio(this.batchViews[batched]!);
    if (
      this.streaming &&
      agentOpen &&
      !backlogged &&
      this.queue.length === 0 &&
      this.playheadAt - now <= END_AHEAD_MS
    ) {
      this.endOfAudio(sink, now);
    }
    this.checkWaiters(now);
    const waiting = this.waiters.length > 0 && now < this.settleAt;
    if (this.queue.length > 0 || this.hold || this.streaming || waiting) this.clock.join(this);
    else this.clock.leave(this);
  }

  /**
   * The caller's playout is about to reach the end of what has arrived: the partial last frame
   * goes out as it is, and — when someone waits for it — a mark after it makes "everything was
   * played" observable. If more audio comes, it continues on the next sample.
   */
  private endOfAudio(sink: PlaybackSink, now: number): void {
    const partial = this.framer.takePartial();
    const n = partial.length;
    if (n > 0) {
      const mu = this.muBuf.subarray(0, n);
      encodeMulaw(partial, mu);
      if (this.reply && !this.reply.sent) this.noteFirstSent(now, this.playheadAt);
      sink.sendAudio(mu);
      this.stats.framesSent++;
      this.samplesSent += n;
      this.samplesSinceMark += n;
      this.playheadAt += n / SAMPLES_PER_MS;
    }
    this.streaming = false;
    this.dryAt = this.playheadAt;
    this.settleAt = this.dryAt + REPLY_SETTLE_MS;
    // Only a waiter needs the end confirmed: an engine at real time with no lead reaches this after
    // every frame, and a mark per frame would double the socket's messages.
    if (this.waiters.length > 0 && this.samplesSinceMark > 0) this.sendMark(sink);
  }

  /** Encodes the next hold frame into `into`; false once the hold has ended. */
  private readHoldFrame(now: number, into: Uint8Array): boolean {
    const hold = this.hold!;
    if (now >= this.holdUntil && !hold.done) {
      hold.fadeOut(40);
      this.holdUntil = Number.POSITIVE_INFINITY; // fade once; calling again would restart it
    }
    if (hold.done) {
      this.hold = undefined;
      return false;
    }
    hold.read(this.holdPcm);
    encodeMulaw(this.holdPcm, into);
    return true;
  }

  private sendMark(sink: PlaybackSink): void {
    const seq = ++this.seq;
    this.marks.push({ seq, samples: this.samplesSent });
    this.samplesSinceMark = 0;
    sink.sendMark(`${this.generation}:${seq}`);
  }
}
