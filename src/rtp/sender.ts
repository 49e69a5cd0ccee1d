import { randomInt } from 'node:crypto';
import type { PaceClock, Paced } from '../call/pace-clock.js';
import { planDigit, SLOT_SAMPLES, type PlannedEventPacket } from './dtmf-plan.js';
import { buildRtp } from './packet.js';

/**
 * Sends one call's caller-bound RTP: a 20 ms packet (160 G.711 bytes) per slot of the shared
 * playout clock, the slots counted from the start on the clock's own time base, so a late tick
 * catches up (at most `maxBurst` packets at once; after a longer stall the schedule restarts
 * rather than flood the peer). Sequence +1 and timestamp +160 per slot, with no gap: the peer's
 * jitter buffer sees a continuous stream. An empty queue sends silence (carriers and NATs time
 * out a silent leg). Digits (RFC 4733) take the slots they need, audio waiting behind them.
 */

export interface RtpSenderOptions {
  clock: PaceClock;
  payloadType: number;
  /** the silence byte of the codec: 0xFF for PCMU, 0xD5 for PCMA */
  silence: number;
  send: (packet: Buffer) => void;
  telephoneEventPt?: number;
  ssrc?: number;
  sequence?: number;
  timestamp?: number;
  maxBurst?: number;
}

const FRAME = SLOT_SAMPLES;
/** gap between two digits, in slots (60 ms) */
const DIGIT_GAP_SLOTS = 3;

type Slot = { kind: 'event'; p: PlannedEventPacket } | { kind: 'gap' };

export class RtpSender implements Paced {
  readonly ssrc: number;
  private seq: number;
  private ts: number;
  private readonly audio: Buffer[] = [];
  private partial: Buffer = Buffer.alloc(0);
  private events: Slot[] = [];
  private startedAt: number | undefined;
  private slotsSent = 0;
  private first = true;
  private running = false;
  private sentCount = 0;
  /** the timestamp of the digit under way: its first slot's */
  private eventStart = 0;

  constructor(private readonly o: RtpSenderOptions) {
    this.ssrc = o.ssrc ?? randomInt(0, 2 ** 32 - 1);
    this.seq = o.sequence ?? randomInt(0, 0xffff);
    this.ts = o.timestamp ?? randomInt(0, 2 ** 32 - 1);
  }

  get queuedFrames(): number {
    return this.audio.length;
  }

  get packetsSent(): number {
    return this.sentCount;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAt = this.o.clock.now();
    this.slotsSent = 0;
    this.o.clock.join(this);
  }

  stop(): void {
    this.running = false;
    this.o.clock.leave(this);
  }

  /** Queues G.711 bytes; they are cut into 160-byte frames (a trailing part waits for more). */
  enqueue(bytes: Uint8Array): void {
    let buf = this.partial.length > 0 ? Buffer.concat([this.partial, bytes]) : Buffer.from(bytes);
    while (buf.length >= FRAME) {
      this.audio.push(buf.subarray(0, FRAME));
      buf = buf.subarray(FRAME);
    }
    this.partial = Buffer.from(buf);
  }

  /** Drops the audio not yet sent (barge-in); digits under way go on. */
  clear(): void {
    this.audio.length = 0;
    this.partial = Buffer.alloc(0);
  }

  /** Queues digits as RFC 4733 events; false when telephone-event was not negotiated or a digit is unknown. */
  sendDigits(digits: string, durationMs?: number): boolean {
    if (this.o.telephoneEventPt === undefined) return false;
    const plans = [...digits].map((d) => planDigit(d, durationMs));
    if (plans.some((p) => p === undefined)) return false;
    for (const plan of plans) {
      if (this.events.length > 0) for (let i = 0; i < DIGIT_GAP_SLOTS; i++) this.events.push({ kind: 'gap' });
      plan!.forEach((p) => this.events.push({ kind: 'event', p }));
    }
    return true;
  }

  tick(): void {
    if (!this.running || this.startedAt === undefined) return;
    const due = Math.floor((this.o.clock.now() - this.startedAt) / this.o.clock.periodMs) - this.slotsSent;
    const n = Math.min(due, this.o.maxBurst ?? 5);
    for (let i = 0; i < n; i++) this.sendSlot();
    if (due > n) {
      // a stall longer than the burst: restart the schedule from now instead of flooding
      this.startedAt = this.o.clock.now();
      this.slotsSent = 0;
    }
  }

  private sendSlot(): void {
    this.slotsSent++;
    const slot = this.events.shift();
    if (slot?.kind === 'event') {
      // all packets of one event carry the timestamp of its first slot
      const eventTs = slot.p.marker ? this.ts : this.eventStart;
      this.eventStart = eventTs;
      this.emit(this.o.telephoneEventPt!, slot.p.payload, slot.p.marker, eventTs);
    } else {
      const frame = slot === undefined ? this.audio.shift() : undefined;
      this.emit(this.o.payloadType, frame ?? Buffer.alloc(FRAME, this.o.silence), this.first, this.ts);
      this.first = false;
    }
    this.ts = (this.ts + FRAME) >>> 0;
  }

  private emit(payloadType: number, payload: Buffer, marker: boolean, timestamp: number): void {
    const packet = buildRtp({ marker, payloadType, sequence: this.seq, timestamp, ssrc: this.ssrc, payload });
    this.seq = (this.seq + 1) & 0xffff;
    this.sentCount++;
    this.o.send(packet);
  }
}
