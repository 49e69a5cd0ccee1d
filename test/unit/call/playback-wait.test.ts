import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Playback, type PlaybackSink } from '../../../src/call/playback.js';
import { IntervalPaceClock } from '../../../src/call/pace-clock.js';

/** Each playback gets its own pacing clock on the fake timers (made after vi.useFakeTimers()). */
const fakeClock = () => new IntervalPaceClock(() => Date.now());

/** What a verb waiting for "the agent's last words were heard" sees (transfer, end_call, DTMF). */
class Sink implements PlaybackSink {
  marks: string[] = [];
  media = 0;
  sendAudio() {
    this.media++;
  }
  sendMark(name: string) {
    this.marks.push(name);
  }
  sendClear() {}
}

const frame20ms = () => new Int16Array(160).fill(3000);

describe('Playback.whenPlayed', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits for the end of a reply still streaming in from the engine, not just what has arrived', async () => {
    const pb = new Playback({ leadMs: 200, clock: fakeClock() });
    const tw = new Sink();
    pb.attach(tw);
    pb.pushAgentAudio(frame20ms(), 8000);
    let result: string | undefined;
    void pb.whenPlayed(5000).then((r) => (result = r));
    // The engine keeps streaming at real time; Twilio echoes each mark as soon as it is sent.
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(20);
      pb.pushAgentAudio(frame20ms(), 8000);
      for (const m of tw.marks.splice(0)) pb.onMark(m);
      await Promise.resolve();
      expect(result).toBeUndefined();
    }
    // The stream stops: the playout reaches its end, the trailing mark comes back, the reply settles.
    for (let i = 0; i < 30 && result === undefined; i++) {
      vi.advanceTimersByTime(20);
      for (const m of tw.marks.splice(0)) pb.onMark(m);
      await Promise.resolve();
    }
    expect(result).toBe('played');
    expect(tw.media).toBe(21);
  });

  it('a wait that began before any stream was attached is not "interrupted" by the attach', async () => {
    const pb = new Playback({ leadMs: 200, clock: fakeClock() });
    const waiting = pb.whenPlayed(5000);
    pb.pushAgentAudio(frame20ms(), 8000);
    const tw = new Sink();
    pb.attach(tw);
    vi.advanceTimersByTime(60);
    for (const m of tw.marks.splice(0)) pb.onMark(m);
    vi.advanceTimersByTime(300); // the reply settles: no more audio came after the playout's end
    await expect(waiting).resolves.toBe('played');
    expect(tw.media).toBe(1);
  });

  it('a wait on a stream that goes away is interrupted (its marks can never come back)', async () => {
    const pb = new Playback({ leadMs: 200, clock: fakeClock() });
    pb.attach(new Sink());
    pb.pushAgentAudio(frame20ms(), 8000);
    const waiting = pb.whenPlayed(5000);
    pb.detach();
    await expect(waiting).resolves.toBe('interrupted');
  });
});
