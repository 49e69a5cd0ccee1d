/**
 * RFC 4733 telephone-event payloads (DTMF digits 0-9 * # A-D = events 0-15): 4 bytes, event,
 * end bit, volume, duration in timestamp units.
 */

export const DTMF_EVENTS = '0123456789*#ABCD';

export interface TelephoneEvent {
  readonly event: number;
  readonly end: boolean;
  /** 0..63, in −dBm0 */
  readonly volume: number;
  /** in RTP timestamp units (8 per ms at 8 kHz), 0..65535 */
  readonly duration: number;
}

export function parseTelephoneEvent(payload: Uint8Array): TelephoneEvent | undefined {
  if (payload.length < 4) return undefined;
  return {
    event: payload[0]!,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: (payload[2]! << 8) | payload[3]!,
  };
}

export function buildTelephoneEvent(e: TelephoneEvent): Buffer {
  const b = Buffer.alloc(4);
  b[0] = e.event & 0xff;
  b[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  b.writeUInt16BE(Math.min(0xffff, e.duration), 2);
  return b;
}

export function digitOf(event: number): string | undefined {
  return event < DTMF_EVENTS.length ? DTMF_EVENTS[event] : undefined;
}

export function eventOf(digit: string): number | undefined {
  const i = DTMF_EVENTS.indexOf(digit.toUpperCase());
  return digit.length === 1 && i >= 0 ? i : undefined;
}
