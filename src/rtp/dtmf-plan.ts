import { buildTelephoneEvent, eventOf } from './telephone-event.js';

/**
 * The packets of one RFC 4733 digit, one per 20 ms slot: updates with the duration growing by
 * 160 (8 kHz) from the first slot, the first marked, then the final packet three times with the
 * end bit (§2.5.1.4). Every packet carries the event's start timestamp; the sender gives each its
 * own sequence number.
 */

export const MIN_DIGIT_MS = 100;
export const SLOT_SAMPLES = 160;

export interface PlannedEventPacket {
  readonly marker: boolean;
  readonly payload: Buffer;
}

export function planDigit(digit: string, durationMs = MIN_DIGIT_MS, volume = 10): PlannedEventPacket[] | undefined {
  const event = eventOf(digit);
  if (event === undefined) return undefined;
  const slots = Math.ceil(Math.max(MIN_DIGIT_MS, durationMs) / 20);
  const total = slots * SLOT_SAMPLES;
  const out: PlannedEventPacket[] = [];
  for (let i = 1; i <= slots; i++) {
    out.push({
      marker: i === 1,
      payload: buildTelephoneEvent({ event, end: false, volume, duration: i * SLOT_SAMPLES }),
    });
  }
  for (let i = 0; i < 3; i++) {
    out.push({ marker: false, payload: buildTelephoneEvent({ event, end: true, volume, duration: total }) });
  }
  return out;
}
