import { CALL_RESAMPLER_QUALITY, Framer, StreamResampler, encodeMulaw, type HoldPlayer } from '../audio/index.js';
import { ByteRing } from './byte-ring.js';

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
const FRAME_MS = 20;
/**
 * A mark every 500 ms while a reply streams. Pacing runs on the clock and the engine reports what
 * was actually spoken (`assistant_interrupted`), so periodic marks only keep the "heard" count of
 * a long reply current; the mark after a reply's last frame is what `whenPlayed` waits for. Each
 * mark is two more socket messages per call: at 100 ms they were ~9 % of the media socket's
 * traffic (docs/capacity.md).
 */
const MARK_EVERY_FRAMES = 25;

/** Agent audio silent this long ends the reply (the engine has no "reply finished"). */
const TAIL_MS = 60;

/** At most this many frames (200 ms) go out in one media message. */
const MAX_BATCH_FRAMES = 10;

/**
 * One pacing clock for every call in the process. A playback whose Twilio buffer is full (the
 * lead is reached) or whose socket is backed up waits for the next tick instead of arming a timer
 * of its own: with hundreds of calls, per-call timers meant a timer wake-up and two setTimeout
 * allocations per 20 ms frame per call, where one tick now serves them all. Ticks are
 * 20 ms apart, so a waiting frame leaves at most 20 ms later than it could have — while Twilio
 * still holds at least lead − 20 ms of audio, so the caller hears it at exactly the same time.
 * The same tick ends replies whose audio has stopped (see scheduleTailFlush).
 */
const PACE_MS = 20;
const pacing = new Set<Playback>();
/** playbacks whose reply is streaming in: the tick ends each one TAIL_MS after its last audio */
const tails = new Set<Playback>();
let paceTimer: NodeJS.Timeout | undefined;

function paceTick(): void {
  for (const p of pacing) p.pump(); // a playback that has nothing left leaves the set itself
  for (const p of tails) p.checkTail(); // likewise once its reply has ended
}

/** Puts a playback in one of the tick's sets (pacing or tails); the tick runs while any has one. */
function join(set: Set<Playback>, p: Playback): void {
  set.add(p);
  paceTimer ??= setInterval(paceTick, PACE_MS);
}

function leave(set: Set<Playback>, p: Playback): void {
  set.delete(p);
  if (pacing.size === 0 && tails.size === 0 && paceTimer) {
    clearInterval(paceTimer);
    paceTimer = undefined;
  }
}

interface PendingMark {
  seq: number;
  frames: number; // frames sent (this generation) when the mark was sent
}

/**
 * Caller-bound audio of one call: resamples agent audio to 8 kHz, cuts exact 20 ms μ-law
 * frames and paces them to Twilio a little ahead of real time (`leadMs`), so that a barge-in
 * has little to discard and `clear` takes effect at once.
 *
 * Ownership of what was played: every mark carries the playback generation (`g:seq`). A
 * generation ends with `clear` (barge-in) or with a new stream; marks of an old generation —
 * which Twilio echoes right after `clear` — are ignored, so "played" always means heard.
 */
export class Playback {
  private resampler: StreamResampler | undefined;
  private readonly framer = new Framer(FRAME);
  private readonly queue: ByteRing;
  /** frames of one pump call, sent as one media message; filled in place through frame views */
  private readonly batch = new Uint8Array(FRAME * MAX_BATCH_FRAMES);
  private readonly batchFrames = Array.from({ length: MAX_BATCH_FRAMES }, (_, i) => this.batch.subarray(i * FRAME, (i + 1) * FRAME));
  /** batchViews[k] = the first k frames of the batch, made once */
  private readonly batchViews = Array.from({ length: MAX_BATCH_FRAMES + 1 }, (_, k) => this.batch.subarray(0, k * FRAME));
  private readonly muBuf = new Uint8Array(FRAME);
  private sink: PlaybackSink | undefined;
  private generation = 0;
  private seq = 0;
  private framesSent = 0; // this generation
  private framesSinceMark = 0;
  private marks: PendingMark[] = [];
  private playheadAt = 0; // when Twilio will have played everything sent (estimate)
  /** when the streaming reply counts as finished (its last audio + TAIL_MS); 0 = no reply streaming */
  private tailDue = 0;
  private hold: HoldPlayer | undefined;
  private holdUntil = 0;
  private readonly holdPcm = new Int16Array(FRAME);
  private waiters: { resolve: (r: PlayedResult) => void; gen: number; timer: NodeJS.Timeout }[] = [];
  private closed = false;
  /** totals for the call record and metrics */
  stats = { framesSent: 0, framesPlayed: 0, staleMarks: 0, clears: 0, droppedBytes: 0 };

  constructor(private readonly opts: { leadMs: number; maxQueueMs?: number; now?: () => number; onDrop?: (frames: number) => void }) {
    const maxBytes = Math.round(((opts.maxQueueMs ?? 120_000) / FRAME_MS) * FRAME);
    this.queue = new ByteRing(FRAME * 50, maxBytes);
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : performance.now();
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
    leave(pacing, this);
    // What was sent to the old stream can no longer be confirmed; waiters on it learn so.
    this.marks = [];
    this.settleWaiters('interrupted');
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** ms of audio queued here (not yet sent) */
  get queuedMs(): number {
    return (this.queue.length / FRAME) * FRAME_MS + this.framer.buffered / 8;
  }

  /** Agent audio at the engine's output rate. */
  pushAgentAudio(pcm: Int16Array, rate: number): void {
    if (this.closed || pcm.length === 0) return;
    if (this.hold) this.fadeHoldIntoQueue();
    if (!this.resampler || this.resampler.inRate !== rate) this.resampler = new StreamResampler(rate, 8000, { quality: CALL_RESAMPLER_QUALITY });
    const pcm8k = this.resampler.process(pcm);
    this.enqueuePcm8k(pcm8k);
    const now = this.now(); // one clock read for the tail deadline and the pacing
    this.scheduleTailFlush(now);
    this.pump(now);
  }

  /** 8 kHz audio the bridge makes itself (DTMF tones), queued after the agent's audio. */
  pushPcm8k(pcm8k: Int16Array): void {
    if (this.closed) return;
    this.framer.flush(this.enqueueFrameFn);
    this.enqueuePcm8k(pcm8k);
    this.endReply();
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
    this.clearTail();
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
    this.stats.framesPlayed += m.frames - this.playedFrames;
    this.playedFrames = m.frames;
    this.marks.splice(0, idx + 1);
    this.checkWaiters();
    return true;
  }

  private playedFrames = 0;
  private wantTrailingMark = false;

  /** ms of this generation's audio the caller has actually heard (confirmed by marks). */
  get heardMs(): number {
    return this.playedFrames * FRAME_MS;
  }

  /**
   * Resolves once everything queued so far has been played to the caller ('played'), or the
   * caller barged in over it ('interrupted'), or `timeoutMs` passed. A reply still streaming in
   * from the engine (its tail not yet seen) counts as queued: a verb sent mid-utterance waits
   * for the end of the utterance, not just for the part that had arrived.
   */
  whenPlayed(timeoutMs: number): Promise<PlayedResult> {
    if (this.closed) return Promise.resolve('closed');
    if (this.tailDue === 0) this.endReply();
    if (this.isDrained()) return Promise.resolve('played');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        resolve('timeout');
      }, timeoutMs);
      this.waiters.push({ resolve, gen: this.generation, timer });
    });
  }

  close(): void {
    this.closed = true;
    leave(pacing, this);
    this.clearTail();
    this.settleWaiters('closed');
    this.sink = undefined;
    this.queue.clear();
  }

  private isDrained(): boolean {
    return this.sink !== undefined && this.tailDue === 0 && this.queue.length === 0 && this.marks.length === 0;
  }

  private newGeneration(): void {
    this.generation++;
    this.framesSent = 0;
    this.playedFrames = 0;
    this.framesSinceMark = 0;
    this.marks = [];
    this.playheadAt = 0;
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

  private checkWaiters(): void {
    if (this.waiters.length && this.isDrained()) this.settleWaiters('played');
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

  /**
   * The engine sends no "reply finished": TAIL_MS without agent audio ends the reply. Its partial
   * last frame is padded and sent, and a mark follows the last frame so that "everything was
   * played" becomes observable without marking every frame of a reply streamed in real time.
   * Every agent frame only moves the deadline; the shared pacing tick checks it, so the end is
   * seen 60–80 ms after the last audio (a timer refreshed per frame per call cost ~1 % of the
   * CPU at 300 calls).
   */
  private scheduleTailFlush(now: number): void {
    if (this.tailDue === 0) join(tails, this);
    this.tailDue = now + TAIL_MS;
  }

  /** Called by the pacing tick while a reply streams. */
  checkTail(): void {
    if (this.tailDue === 0 || this.now() < this.tailDue) return;
    this.clearTail();
    this.endReply();
  }

  /** What is queued is a whole reply: its partial last frame goes out padded, then a mark. */
  private endReply(): void {
    this.framer.flush(this.enqueueFrameFn);
    this.wantTrailingMark = true;
    this.pump();
  }

  private clearTail(): void {
    this.tailDue = 0;
    leave(tails, this);
  }

  /**
   * Sends what Twilio may take now — frames while it holds less than `leadMs` of unplayed audio —
   * as one media message (Twilio plays any size in order), then waits for the shared pacing tick
   * if more is queued. Public for the pacing clock; calling it at any time is harmless.
   */
  pump(now = this.now()): void {
    try {
      this.send(now);
    } catch (err) {
      // Runs from timers (the shared tick, the reply's tail): a failing sink must neither crash the
      // process nor stop the other calls' audio on the same tick. This call stops sending.
      leave(pacing, this);
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'PlaybackSinkError');
    }
  }

  private send(now: number): void {
    const sink = this.sink;
    if (!sink || this.closed) {
      leave(pacing, this);
      return;
    }
    if (this.playheadAt < now) this.playheadAt = now;
    const backlogged = sink.backlogged?.() ?? false;
    let batched = 0;
    while (!backlogged && this.playheadAt - now < this.opts.leadMs) {
      const slot = this.batchFrames[batched]!;
      if (!this.queue.read(slot) && !(this.hold && this.readHoldFrame(now, slot))) break;
      batched++;
      this.framesSent++;
      this.stats.framesSent++;
      this.framesSinceMark++;
      this.playheadAt += FRAME_MS;
      // A mark follows the frame it counts, so the batch goes out first.
      if (this.framesSinceMark >= MARK_EVERY_FRAMES || batched === MAX_BATCH_FRAMES) {
        sink.sendAudio(this.batchViews[batched]!);
        batched = 0;
        if (this.framesSinceMark >= MARK_EVERY_FRAMES) this.sendMark(sink);
      }
    }
    if (batched > 0) sink.sendAudio(this.batchViews[batched]!);
    if (this.wantTrailingMark && this.queue.length === 0) {
      this.wantTrailingMark = false;
      if (this.framesSinceMark > 0) this.sendMark(sink);
    }
    if (this.queue.length > 0 || this.hold) join(pacing, this);
    else leave(pacing, this);
    this.checkWaiters();
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
    this.marks.push({ seq, frames: this.framesSent });
    this.framesSinceMark = 0;
    sink.sendMark(`${this.generation}:${seq}`);
  }
}
