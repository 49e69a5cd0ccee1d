/**
 * Cuts a stream of PCM16 chunks of any size into frames of exactly `samplesPerFrame` samples
 * (Omni wants ~20 ms frames; Twilio chunks and resampler outputs come in whatever size).
 *
 * Frames are delivered synchronously from `push`, either through one internal buffer or as views
 * of the pushed chunk: the frame passed to `onFrame` is only valid during the callback (copy it to
 * keep it) and must not be written to. Nothing is allocated per frame when chunks are whole frames.
 *
 * Bounded: at most `maxBufferedSamples` samples are pending at once (the partial frame plus the
 * chunk being pushed). Past that the oldest pending samples are dropped and counted in
 * `droppedSamples`, so one absurdly large chunk cannot turn into an unbounded burst of frames.
 */

/** Default bound when none is given: 500 frames (10 s of 20 ms frames). */
const DEFAULT_MAX_FRAMES = 500;

export class Framer {
  readonly samplesPerFrame: number;
  readonly maxBufferedSamples: number;
  private readonly frame: Int16Array;
  private fill = 0;
  private dropped = 0;
  private busy = false;

  constructor(samplesPerFrame: number, maxBufferedSamples?: number) {
    if (!Number.isInteger(samplesPerFrame) || samplesPerFrame <= 0) {
      throw new RangeError(`Framer: samplesPerFrame must be a positive integer, got ${samplesPerFrame}`);
    }
    const max = maxBufferedSamples ?? samplesPerFrame * DEFAULT_MAX_FRAMES;
    if (!Number.isFinite(max) || max <= 0) {
      throw new RangeError(`Framer: maxBufferedSamples must be positive, got ${maxBufferedSamples}`);
    }
    this.samplesPerFrame = samplesPerFrame;
    // A bound below one frame could never emit anything.
    this.maxBufferedSamples = Math.max(Math.floor(max), samplesPerFrame);
    this.frame = new Int16Array(samplesPerFrame);
  }

  /** Samples waiting for the next frame (always less than one frame between calls). */
  get buffered(): number {
    return this.fill;
  }

  /** Samples dropped so far because the bound was exceeded. */
  get droppedSamples(): number {
    return this.dropped;
  }

  /**
   * Appends `samples` and emits every complete frame. The input is not modified or retained.
   * Not re-entrant: pushing into the same framer from inside `onFrame` throws.
   */
  push(samples: Int16Array, onFrame: (frame: Int16Array) => void): void {
    if (this.busy) throw new Error('Framer.push called from inside onFrame');
    const size = this.samplesPerFrame;
    const frame = this.frame;
    let start = 0;
    const end = samples.length;
    const excess = this.fill + end - this.maxBufferedSamples;
    if (excess > 0) {
      // Drop the oldest pending samples: first from the partial frame, then from the chunk.
      const fromFrame = Math.min(excess, this.fill);
      if (fromFrame > 0) {
        frame.copyWithin(0, fromFrame, this.fill);
        this.fill -= fromFrame;
      }
      start += excess - fromFrame;
      this.dropped += excess;
    }
    this.busy = true;
    try {
      // With nothing pending, whole frames are handed out as views of the input, not copied:
      // the usual case, where every chunk is exactly one frame.
      if (this.fill === 0) {
        if (start === 0 && end === size) {
          onFrame(samples);
          return;
        }
        for (; end - start >= size; start += size) onFrame(samples.subarray(start, start + size));
      }
      while (end - start >= size - this.fill) {
        for (let i = this.fill; i < size; i++) frame[i] = samples[start++] as number;
        this.fill = 0;
        onFrame(frame);
      }
      // Less than a frame is left: keep it for the next push.
      const rest = end - start;
      for (let i = 0; i < rest; i++) frame[this.fill + i] = samples[start + i] as number;
      this.fill += rest;
    } finally {
      this.busy = false;
    }
  }

  /** Pads the pending remainder with silence and emits it as one last frame (if any). */
  flush(onFrame: (frame: Int16Array) => void): void {
    if (this.fill === 0) return;
    this.frame.fill(0, this.fill);
    this.fill = 0;
    this.busy = true;
    try {
      onFrame(this.frame);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Hands out the pending remainder as it is (no padding) and forgets it; the next push starts a
   * new frame. The view is valid until the next push. Empty when nothing is pending.
   */
  takePartial(): Int16Array {
    const n = this.fill;
    this.fill = 0;
    return this.frame.subarray(0, n);
  }

  /** Discards the pending remainder (e.g. on barge-in). */
  clear(): void {
    this.fill = 0;
  }
}
