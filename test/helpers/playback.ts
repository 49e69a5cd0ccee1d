import { IntervalPaceClock } from '../../src/call/pace-clock.js';
import { Playback, type PlaybackSink } from '../../src/call/playback.js';

/** Each playback gets its own pacing clock on the fake timers (made after vi.useFakeTimers()). */
export const fakeClock = () => new IntervalPaceClock(() => Date.now());

/** Records what a playback sends to Twilio. */
export class FakeTwilio implements PlaybackSink {
  sent: ({ kind: 'media'; bytes: number } | { kind: 'mark'; name: string } | { kind: 'clear' })[] = [];
  sendAudio(mu: Uint8Array) {
    this.sent.push({ kind: 'media', bytes: mu.length });
  }
  sendMark(name: string) {
    this.sent.push({ kind: 'mark', name });
  }
  sendClear() {
    this.sent.push({ kind: 'clear' });
  }
  /** 20 ms frames sent (one media message may carry several) */
  media() {
    return this.sent.reduce((n, m) => n + (m.kind === 'media' ? m.bytes / 160 : 0), 0);
  }
  /** sizes of the media messages, in order */
  mediaBytes() {
    return this.sent.flatMap((m) => (m.kind === 'media' ? [m.bytes] : []));
  }
  marks() {
    return this.sent.flatMap((m) => (m.kind === 'mark' ? [m.name] : []));
  }
}

export const tone = (ms: number, rate: number) =>
  Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)),
  );

/** A playback attached to a fresh FakeTwilio, on its own pacing clock (made after vi.useFakeTimers()). */
export function playbackRig(leadMs = 100, clock = fakeClock()) {
  const pb = new Playback({ leadMs, clock });
  const tw = new FakeTwilio();
  pb.attach(tw);
  return { pb, tw };
}
