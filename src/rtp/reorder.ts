import { extendSeq } from './seq.js';

/**
 * Puts received RTP packets back in sequence order (wrap-around included) and drops duplicates.
 * It holds at most `depth` packets behind a gap: a packet overtaken by `depth` later ones is
 * given up for lost (the playout side fills the gap with silence), and one arriving after that is
 * dropped as late (as is a second copy of a packet already released). Release is immediate when the next expected packet arrives, so in-order
 * traffic waits for nothing. A new SSRC or a jump of more than `maxJump` packets (a sender that
 * restarted) flushes what is held and starts again from the new packet.
 */

export interface Sequenced {
  readonly sequence: number;
  readonly ssrc: number;
}

export interface ReorderStats {
  duplicates: number;
  late: number;
  lost: number;
  resets: number;
}

/** Extended numbers start high, so the first packets may be preceded by earlier ones. */
const BASE = 1 << 24;

export class ReorderBuffer<T extends Sequenced> {
  readonly stats: ReorderStats = { duplicates: 0, late: 0, lost: 0, resets: 0 };
  private readonly pending = new Map<number, T>();
  private highest: number | undefined;
  /** next extended number to release; undefined until the start is known */
  private next: number | undefined;
  private ssrc: number | undefined;

  constructor(
    private readonly depth = 4,
    private readonly maxJump = 1000,
  ) {}

  /** Takes a packet; returns the packets now releasable, in order. */
  push(p: T): T[] {
    const out: T[] = [];
    let ext = this.highest === undefined ? BASE + p.sequence : extendSeq(p.sequence, this.highest);
    const jump = this.highest === undefined ? 0 : ext - this.highest;
    if (this.ssrc !== undefined && (p.ssrc !== this.ssrc || jump > this.maxJump || jump < -this.maxJump)) {
      // a restarted stream: what was held is released, the new one starts from scratch
      out.push(...this.flush());
      this.stats.resets++;
      this.highest = undefined;
      this.next = undefined;
      ext = BASE + p.sequence;
    }
    this.ssrc = p.ssrc;
    if (this.next !== undefined && ext < this.next) {
      this.stats.late++;
      return out;
    }
    if (this.pending.has(ext)) {
      this.stats.duplicates++;
      return out;
    }
    this.pending.set(ext, p);
    this.highest = this.highest === undefined ? ext : Math.max(this.highest, ext);
    if (this.next === undefined) {
      // wait until the earliest packet can no longer be overtaken before fixing the start
      if (this.pending.size <= this.depth) return out;
      this.next = this.lowest();
    }
    this.drain(out);
    while (this.pending.size > this.depth) {
      const low = this.lowest();
      this.stats.lost += low - this.next;
      this.next = low;
      this.drain(out);
    }
    return out;
  }

  /** Releases everything held, in order (end of the stream, or a restart). */
  flush(): T[] {
    const keys = [...this.pending.keys()].sort((a, b) => a - b);
    const out = keys.map((k) => this.pending.get(k)!);
    if (keys.length > 0) this.next = keys[keys.length - 1]! + 1;
    this.pending.clear();
    return out;
  }

  get held(): number {
    return this.pending.size;
  }

  private drain(out: T[]): void {
    for (;;) {
      const p = this.pending.get(this.next!);
      if (p === undefined) return;
      this.pending.delete(this.next!);
      out.push(p);
      this.next! += 1;
    }
  }

  private lowest(): number {
    let low = Infinity;
    for (const k of this.pending.keys()) if (k < low) low = k;
    return low;
  }
}
