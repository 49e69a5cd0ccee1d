/**
 * Silence filling for Twilio Media Streams timestamps.
 *
 * Each inbound media message carries `timestamp`, ms since the stream started. When the network
 * loses messages the timestamp jumps; the engine's endpointer and the call's timeline need that
 * hole filled with silence, not closed up. Choices:
 *
 * - The first chunk defines the timeline and never gets leading silence.
 * - Within ±3 ms of the expected time a chunk counts as contiguous (timestamps are whole ms; a
 *   chunk size that is not a whole number of ms rounds). The expected time then advances by the
 *   chunk's exact duration, so rounding never accumulates.
 * - Later than that: the hole is filled, rounded to whole samples, at most `maxFillMs` (2 s) per
 *   chunk, so a wild timestamp cannot allocate unbounded silence. The timeline then follows the
 *   new timestamp.
 * - Earlier than that (duplicate, reordered, overlapping): -1, drop the chunk; the audio it carries
 *   was either already played or its slot was already filled with silence.
 * - After 10 drops in a row the sender's clock has evidently restarted or gone backwards for
 *   good: the timeline resyncs to the current chunk instead of muting the call forever.
 * - A malformed timestamp or size (NaN, negative, non-integer samples) is dropped (-1).
 */

const TOLERANCE_MS = 3;
const DEFAULT_MAX_FILL_MS = 2000;
const RESYNC_AFTER_DROPS = 10;

export class GapFiller {
  readonly rate: number;
  private readonly maxFill: number;
  /** expected timestamp of the next chunk, ms; NaN before the first chunk */
  private expectedMs = Number.NaN;
  private dropsInRow = 0;
  private filled = 0;
  private droppedChunks = 0;

  constructor(rate = 8000, maxFillMs = DEFAULT_MAX_FILL_MS) {
    if (!Number.isInteger(rate) || rate <= 0) throw new RangeError(`GapFiller: bad rate ${rate}`);
    this.rate = rate;
    this.maxFill = Math.max(0, Math.round((maxFillMs * rate) / 1000));
  }

  /** Total silence samples requested so far. */
  get filledSamples(): number {
    return this.filled;
  }

  /** Chunks rejected so far (late, duplicate or malformed). */
  get dropped(): number {
    return this.droppedChunks;
  }

  /**
   * Returns how many samples of silence must be inserted before this chunk (0 when contiguous),
   * or -1 meaning "drop this chunk" (late, duplicate or malformed).
   */
  check(timestampMs: number, samples: number): number {
    if (!Number.isFinite(timestampMs) || timestampMs < 0 || !Number.isInteger(samples) || samples < 0) {
      this.droppedChunks++;
      return -1;
    }
    const durationMs = (samples * 1000) / this.rate;
    if (Number.isNaN(this.expectedMs)) {
      this.expectedMs = timestampMs + durationMs;
      return 0;
    }
    const delta = timestampMs - this.expectedMs;
    if (delta > TOLERANCE_MS) {
      this.dropsInRow = 0;
      this.expectedMs = timestampMs + durationMs;
      const fill = Math.min(Math.round((delta * this.rate) / 1000), this.maxFill);
      this.filled += fill;
      return fill;
    }
    if (delta >= -TOLERANCE_MS) {
      this.dropsInRow = 0;
      this.expectedMs += durationMs;
      return 0;
    }
    if (++this.dropsInRow >= RESYNC_AFTER_DROPS) {
      this.dropsInRow = 0;
      this.expectedMs = timestampMs + durationMs;
      return 0;
    }
    this.droppedChunks++;
    return -1;
  }

  /** Forgets the timeline (e.g. when a new stream starts). */
  reset(): void {
    this.expectedMs = Number.NaN;
    this.dropsInRow = 0;
  }
}
