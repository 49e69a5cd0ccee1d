import { RtpLatch, type Endpoint } from './latch.js';
import { isRtcp, parseRtp } from './packet.js';
import type { RtpSocket } from './port-pool.js';

/**
 * Two legs' RTP joined (a B2BUA transfer): each packet from one leg's latched peer goes out of the
 * other leg's socket to that leg's peer, unchanged but for the telephone-event payload type when
 * the two sides numbered it differently. Both legs share one codec (the offer kept the caller's),
 * so nothing is decoded. A stranger's packets are refused by each side's latch, as on a call.
 */

export interface RelaySide {
  socket: RtpSocket;
  latch: RtpLatch;
  /** this side's telephone-event payload type, when it has one */
  telephoneEvent?: number;
}

export class RtpRelay {
  /** performance.now() of the last packet from each side (a hung-up side stops sending) */
  private readonly lastFrom = new Map<RelaySide, number>();
  relayed = 0;
  private closed = false;
  private readonly onA: (buf: Buffer, from: Endpoint) => void;
  private readonly onB: (buf: Buffer, from: Endpoint) => void;

  constructor(
    private readonly a: RelaySide,
    private readonly b: RelaySide,
  ) {
    const now = performance.now();
    this.lastFrom.set(a, now).set(b, now);
    this.onA = (buf, from) => this.pass(buf, from, a, b);
    this.onB = (buf, from) => this.pass(buf, from, b, a);
    a.socket.socket.on('message', this.onA);
    b.socket.socket.on('message', this.onB);
  }

  /** The older of the two sides' last packets: the media timeout reads it. */
  get quietSince(): number {
    return Math.min(this.lastFrom.get(this.a)!, this.lastFrom.get(this.b)!);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Both ports back to the pool, once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.a.socket.socket.off('message', this.onA);
    this.b.socket.socket.off('message', this.onB);
    await Promise.all([this.a.socket.close(), this.b.socket.close()]);
  }

  private pass(buf: Buffer, from: Endpoint, src: RelaySide, dst: RelaySide): void {
    if (this.closed || isRtcp(buf)) return; // each leg's RTCP describes that leg alone
    const p = parseRtp(buf);
    if (!p || !src.latch.accept(from)) return;
    const to = dst.latch.target;
    if (!to) return;
    this.lastFrom.set(src, performance.now());
    let out = buf;
    if (src.telephoneEvent !== undefined && p.payloadType === src.telephoneEvent) {
      if (dst.telephoneEvent === undefined) return; // the other side cannot read events
      if (dst.telephoneEvent !== src.telephoneEvent) {
        out = Buffer.from(buf);
        out[1] = (out[1]! & 0x80) | dst.telephoneEvent; // keep the marker bit
      }
    }
    try {
      dst.socket.socket.send(out, to.port, to.address);
      this.relayed++;
    } catch {
      // the port went back to the pool under a late packet: a lost packet, never a crash
    }
  }
}
