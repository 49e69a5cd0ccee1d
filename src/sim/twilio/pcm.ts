/**
 * Small PCM containers for the simulator: a FIFO of samples (what is about to be said or
 * heard) and a growing recorder (everything heard). 8 kHz mono Int16 throughout.
 */

export class SampleQueue {
  private chunks: Int16Array[] = [];
  private offset = 0; // read position inside chunks[0]
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.chunks.push(pcm);
    this.total += pcm.length;
  }

  /** Copies up to dst.length samples into dst; the rest of dst is zeroed. Returns samples read. */
  read(dst: Int16Array): number {
    let w = 0;
    while (w < dst.length && this.chunks.length > 0) {
      const head = this.chunks[0]!;
      const n = Math.min(dst.length - w, head.length - this.offset);
      dst.set(head.subarray(this.offset, this.offset + n), w);
      w += n;
      this.offset += n;
      if (this.offset >= head.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.total -= w;
    if (w < dst.length) dst.fill(0, w);
    return w;
  }

  /** Drops everything; returns how many samples were dropped. */
  clear(): number {
    const n = this.total;
    this.chunks = [];
    this.offset = 0;
    this.total = 0;
    return n;
  }
}

export class PcmRecorder {
  private buf = new Int16Array(8000 * 10);
  private n = 0;

  get length(): number {
    return this.n;
  }

  append(pcm: Int16Array): void {
    if (this.n + pcm.length > this.buf.length) {
      const bigger = new Int16Array(Math.max(this.buf.length * 2, this.n + pcm.length));
      bigger.set(this.buf.subarray(0, this.n));
      this.buf = bigger;
    }
    this.buf.set(pcm, this.n);
    this.n += pcm.length;
  }

  /** A copy of everything recorded. */
  toArray(): Int16Array {
    return this.buf.slice(0, this.n);
  }
}

/** Peak absolute sample: a cheap "is anything audible" test for 20 ms frames. */
export function peak(pcm: Int16Array): number {
  let m = 0;
  for (let i = 0; i < pcm.length; i++) {
    const v = pcm[i]!;
    const a = v < 0 ? -v : v;
    if (a > m) m = a;
  }
  return m;
}
