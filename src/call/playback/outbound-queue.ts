import { CALL_RESAMPLER_QUALITY, Framer, StreamResampler, encodeMulaw } from '../../audio/index.js';
import { ByteRing } from '../byte-ring.js';
import { FRAME, SAMPLES_PER_MS } from './units.js';

const NOTHING = new Uint8Array(0);

/**
 * Caller-bound audio not sent yet: agent audio resampled to 8 kHz as one stream, cut into whole
 * 20 ms frames, μ-law encoded into a bounded queue. The samples after the last whole frame stay in
 * the framer until more audio completes the frame or the playout is about to reach them
 * (`takePartialMulaw`), so the bytes are exactly the μ-law of the whole stream however it arrived.
 */
export class OutboundQueue {
  private resampler: StreamResampler | undefined;
  private readonly framer = new Framer(FRAME);
  private readonly ring: ByteRing;
  private readonly muBuf = new Uint8Array(FRAME);
  /** bytes dropped because the queue was full (oldest first) */
  droppedBytes = 0;
  /** samples that left the 8 kHz stream so far: sent, dropped for space or cleared (a stream position) */
  private consumed = 0;

  constructor(
    maxQueueMs: number,
    private readonly onDrop?: (frames: number) => void,
  ) {
    this.ring = new ByteRing(FRAME * 50, Math.round(maxQueueMs * SAMPLES_PER_MS));
  }

  /** encoded bytes waiting to be sent */
  get length(): number {
    return this.ring.length;
  }

  /** ms of audio here, whole frames and the partial one */
  get queuedMs(): number {
    return (this.ring.length + this.framer.buffered) / SAMPLES_PER_MS;
  }

  /**
   * Where in the 8 kHz stream the next audio pushed will start, on the same scale as `consumedSamples`:
   * what has left plus what is still here. Audio pushed now starts playing once `consumedSamples`
   * passes this.
   */
  get tailPosition(): number {
    return this.consumed + this.ring.length + this.framer.buffered;
  }

  /** samples that have left the queue so far, sent, dropped or cleared */
  get consumedSamples(): number {
    return this.consumed;
  }

  /** Agent audio at `rate`; a new rate starts a new resampler stream. */
  pushAgent(pcm: Int16Array, rate: number): void {
    if (!this.resampler || this.resampler.inRate !== rate)
      this.resampler = new StreamResampler(rate, 8000, { quality: CALL_RESAMPLER_QUALITY });
    this.framer.push(this.resampler.process(pcm), this.enqueueFrameFn);
  }

  /** 8 kHz audio of the bridge's own (DTMF tones): after the agent's, on a frame boundary of its own. */
  pushPcm8k(pcm8k: Int16Array): void {
    this.framer.flush(this.enqueueFrameFn);
    this.framer.push(pcm8k, this.enqueueFrameFn);
    this.framer.flush(this.enqueueFrameFn);
  }

  /** bound once: the agent-audio path runs 50 times a second per call and allocates no closure */
  private readonly enqueueFrameFn = (f: Int16Array): void => this.enqueueFrame(f);

  /** One whole 8 kHz frame, encoded and queued (the oldest audio goes if the queue is full). */
  enqueueFrame(frame: Int16Array): void {
    encodeMulaw(frame, this.muBuf);
    const before = this.ring.dropped;
    this.ring.write(this.muBuf);
    const dropped = this.ring.dropped - before;
    if (dropped > 0) {
      this.consumed += dropped;
      this.droppedBytes += dropped;
      this.onDrop?.(Math.ceil(dropped / FRAME));
    }
  }

  /** Fills `into` with the next frame; false when no whole frame is queued. */
  read(into: Uint8Array): boolean {
    if (!this.ring.read(into)) return false;
    this.consumed += into.length;
    return true;
  }

  /** The samples after the last whole frame, encoded (a view valid until the next call here). */
  takePartialMulaw(): Uint8Array {
    const partial = this.framer.takePartial();
    if (partial.length === 0) return NOTHING; // an engine at real time gets here after every frame
    this.consumed += partial.length;
    const mu = this.muBuf.subarray(0, partial.length);
    encodeMulaw(partial, mu);
    return mu;
  }

  /** Barge-in: nothing queued survives, and the resampler forgets its history. */
  clear(): void {
    this.consumed += this.ring.length + this.framer.buffered;
    this.framer.clear();
    this.ring.clear();
    this.resampler?.reset();
  }

  /** The call ended: queued frames go (the framer's partial is never sent after close). */
  drop(): void {
    this.consumed += this.ring.length;
    this.ring.clear();
  }
}
