import type { RtpPacket } from './packet.js';
import { digitOf, parseTelephoneEvent } from './telephone-event.js';

/**
 * Turns RFC 4733 packets into one digit per key press. An event is known by its SSRC and RTP
 * timestamp (fixed for the whole event): its first packet seen gives the digit, whatever it is
 * (marker or not: some senders omit the marker, and the first packets may be lost), and every
 * later packet with that key — updates, the three end packets, retransmissions reordered after
 * the next digit — is a repeat. Events may use the audio's SSRC or their own; both work because
 * the key includes the SSRC and nothing else is shared.
 */

export interface ReceivedDigit {
  readonly digit: string;
  readonly ssrc: number;
  readonly timestamp: number;
}

export class DtmfReceiver {
  /** recent event keys, oldest first (insertion order), bounded */
  private readonly seen = new Set<string>();
  /** events whose end packet has arrived, for the duration statistics a caller may want */
  private ended = 0;

  constructor(
    private readonly onDigit: (d: ReceivedDigit) => void,
    private readonly memory = 64,
  ) {}

  get endedEvents(): number {
    return this.ended;
  }

  /** Feeds a packet of the negotiated telephone-event payload type. */
  onPacket(p: RtpPacket): void {
    const e = parseTelephoneEvent(p.payload);
    if (!e) return;
    const digit = digitOf(e.event);
    if (digit === undefined) return; // other events (tones, flash) are not digits
    const key = `${p.ssrc}:${p.timestamp}`;
    if (this.seen.has(key)) {
      if (e.end && !this.seen.has(`${key}:end`)) {
        this.remember(`${key}:end`);
        this.ended++;
      }
      return;
    }
    this.remember(key);
    if (e.end) {
      this.remember(`${key}:end`);
      this.ended++;
    }
    this.onDigit({ digit, ssrc: p.ssrc, timestamp: p.timestamp });
  }

  private remember(key: string): void {
    this.seen.add(key);
    while (this.seen.size > this.memory * 2) {
      const oldest = this.seen.values().next().value as string;
      this.seen.delete(oldest);
    }
  }
}
