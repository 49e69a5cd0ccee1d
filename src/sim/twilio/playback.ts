import { SampleQueue } from './pcm.js';

/**
 * Twilio's outbound buffer for one stream: audio from the bridge is queued and played at real
 * time, one 20 ms tick at a time; a mark is echoed when playback reaches the audio queued before
 * it (at once when nothing is queued); `clear` drops the queue and echoes every pending mark.
 */
export class StreamPlayback {
  private readonly queue = new SampleQueue();
  /** marks in order, each with the total-enqueued sample count it follows */
  private marks: { name: string; at: number }[] = [];
  private enqueued = 0;
  private played = 0;

  get bufferedSamples(): number {
    return this.queue.length;
  }

  push(pcm: Int16Array): void {
    this.queue.push(pcm);
    this.enqueued += pcm.length;
  }

  /** Queues a mark; returns true when it must be echoed immediately (nothing buffered). */
  mark(name: string): boolean {
    if (this.enqueued === this.played && this.marks.length === 0) return true;
    this.marks.push({ name, at: this.enqueued });
    return false;
  }

  /**
   * Plays one frame into `dst` (silence-padded). Calls `onMark` for each mark reached.
   * Returns the number of bridge samples played.
   */
  tick(dst: Int16Array, onMark: (name: string) => void): number {
    const n = this.queue.read(dst);
    this.played += n;
    while (this.marks.length > 0 && this.marks[0]!.at <= this.played) onMark(this.marks.shift()!.name);
    return n;
  }

  /** Empties the buffer; returns the dropped sample count and the marks to echo, in order. */
  clear(): { droppedSamples: number; marks: string[] } {
    const droppedSamples = this.queue.clear();
    this.played = this.enqueued;
    const marks = this.marks.map((m) => m.name);
    this.marks = [];
    return { droppedSamples, marks };
  }
}
