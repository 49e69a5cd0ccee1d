/**
 * A bounded FIFO of bytes that reuses one buffer (grown by doubling up to `maxBytes`). The
 * playback queue writes μ-law frames into it 50 times a second per call, so it must not
 * allocate per frame; when full, the oldest bytes are dropped and counted — never an unbounded
 * queue, whatever the engine sends.
 */
export class ByteRing {
  private buf: Uint8Array;
  private head = 0; // read position
  private size = 0;
  dropped = 0;

  constructor(
    initialBytes: number,
    private readonly maxBytes: number,
  ) {
    this.buf = new Uint8Array(Math.min(initialBytes, maxBytes));
  }

  get length(): number {
    return this.size;
  }

  write(src: Uint8Array): void {
    let data = src;
    if (data.length > this.maxBytes) {
      this.dropped += data.length - this.maxBytes;
      data = data.subarray(data.length - this.maxBytes);
    }
    if (this.size + data.length > this.buf.length) this.grow(this.size + data.length);
    const over = this.size + data.length - this.buf.length;
    if (over > 0) this.skip(over, true);
    const cap = this.buf.length;
    const tail = (this.head + this.size) % cap;
    const first = Math.min(data.length, cap - tail);
    if (first === data.length) {
      this.buf.set(data, tail); // the usual case: no wrap, no view
    } else {
      this.buf.set(data.subarray(0, first), tail);
      this.buf.set(data.subarray(first), 0);
    }
    this.size += data.length;
  }

  /** Copies `dst.length` bytes out; returns false (copying nothing) if not enough are queued. */
  read(dst: Uint8Array): boolean {
    if (this.size < dst.length) return false;
    const cap = this.buf.length;
    const first = Math.min(dst.length, cap - this.head);
    dst.set(this.buf.subarray(this.head, this.head + first), 0);
    if (first < dst.length) dst.set(this.buf.subarray(0, dst.length - first), first);
    this.skip(dst.length, false);
    return true;
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }

  private skip(n: number, counted: boolean): void {
    const k = Math.min(n, this.size);
    this.head = (this.head + k) % this.buf.length;
    this.size -= k;
    if (counted) this.dropped += k;
  }

  private grow(need: number): void {
    if (this.buf.length >= this.maxBytes) return;
    let cap = this.buf.length || 1024;
    while (cap < need && cap < this.maxBytes) cap *= 2;
    cap = Math.min(cap, this.maxBytes);
    const next = new Uint8Array(cap);
    const n = this.size;
    const old = new Uint8Array(n);
    this.read(old);
    next.set(old, 0);
    this.buf = next;
    this.head = 0;
    this.size = n;
  }
}
