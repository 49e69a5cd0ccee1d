/**
 * Symmetric RTP (RFC 4961 behaviour expected of NATed peers): media goes to where the peer's RTP
 * really comes from, not to the SDP address (often a private one behind NAT). The first packet
 * latches the source; after that only that source is accepted, so a stranger spraying packets at
 * the port cannot steal or inject the stream. A re-INVITE (un-hold, a new address) unlatches, and
 * the next packet latches again.
 */

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export class RtpLatch {
  private latched: Endpoint | undefined;
  private rejectedCount = 0;

  constructor(private sdpRemote?: Endpoint) {}

  /** Where to send: the latched source, else the SDP address (undefined when neither is known). */
  get target(): Endpoint | undefined {
    return this.latched ?? this.sdpRemote;
  }

  get isLatched(): boolean {
    return this.latched !== undefined;
  }

  get rejected(): number {
    return this.rejectedCount;
  }

  /** Whether a packet from `from` belongs to this call (the first one latches). */
  accept(from: Endpoint): boolean {
    if (!this.latched) {
      this.latched = { address: from.address, port: from.port };
      return true;
    }
    if (this.latched.address === from.address && this.latched.port === from.port) return true;
    this.rejectedCount++;
    return false;
  }

  /** A new offer was accepted: forget the latch; the next packet latches again. */
  reset(sdpRemote?: Endpoint): void {
    this.latched = undefined;
    this.sdpRemote = sdpRemote;
  }
}
