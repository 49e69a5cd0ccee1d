import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Playback, type PlaybackSink } from '../../../src/call/playback.js';
import { IntervalPaceClock } from '../../../src/call/pace-clock.js';
import { HoldPlayer, generateDefaultHold } from '../../../src/audio/index.js';

/** Each playback gets its own pacing clock on the fake timers (made after vi.useFakeTimers()). */
const fakeClock = () => new IntervalPaceClock(() => Date.now());

class FakeTwilio implements PlaybackSink {
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
  marks() {
    return this.sent.flatMap((m) => (m.kind === 'mark' ? [m.name] : []));
  }
}

const tone = (ms: number, rate: number) =>
  Int16Array.from({ length: (rate * ms) / 1000 }, (_, i) =>
    Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)),
  );

describe('Playback', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(leadMs = 100, clock = fakeClock()) {
    const pb = new Playback({ leadMs, clock });
    const tw = new FakeTwilio();
    pb.attach(tw);
    return { pb, tw };
  }

  it('sends exact 20 ms μ-law frames, paced no further than the lead ahead of real time', () => {
    const { pb, tw } = setup(100);
    pb.pushAgentAudio(tone(1000, 24000), 24000);
    expect(tw.sent.every((m) => m.kind !== 'media' || (m.bytes > 0 && m.bytes % 160 === 0))).toBe(true);
    expect(tw.media()).toBe(5); // 100 ms lead = 5 frames up front, not the whole second
    vi.advanceTimersByTime(500);
    expect(tw.media()).toBeGreaterThanOrEqual(29);
    expect(tw.media()).toBeLessThanOrEqual(31);
    vi.advanceTimersByTime(2000);
    expect(tw.media()).toBe(50);
  });

  it('holds the partial last frame until the playout is about to reach it, then sends it unpadded with a mark', async () => {
    const { pb, tw } = setup(1000);
    pb.pushAgentAudio(tone(95, 8000), 8000); // four whole frames and 15 ms more
    expect(tw.media()).toBe(4);
    vi.advanceTimersByTime(40);
    expect(tw.media()).toBe(4); // 40 ms of the 80 sent are still to play: the partial waits
    pb.pushAgentAudio(tone(5, 8000), 8000); // more audio: still less than a frame after the partial
    const waiting = pb.whenPlayed(5000); // someone waits for the end: it will be marked
    vi.advanceTimersByTime(20);
    expect(tw.marks()).toEqual([]);
    vi.advanceTimersByTime(20); // 20 ms of playout left: the 20 ms that waited go out as they are
    expect(
      tw.sent
        .filter((m) => m.kind === 'media')
        .map((m) => (m.kind === 'media' ? m.bytes : 0))
        .at(-1),
    ).toBe(160);
    expect(tw.marks()).toEqual(['1:1']);
    pb.onMark('1:1');
    vi.advanceTimersByTime(300); // the reply settles
    await expect(waiting).resolves.toBe('played');
    expect(vi.getTimerCount()).toBe(0); // nothing left to pace: the shared tick stopped
  });

  it('a partial frame is sent as it is: never padded with silence the engine did not send', () => {
    const { pb, tw } = setup(1000);
    pb.pushAgentAudio(tone(30, 8000), 8000); // one frame and a half, and nothing more
    vi.advanceTimersByTime(40);
    expect(tw.sent.filter((m) => m.kind === 'media').map((m) => (m.kind === 'media' ? m.bytes : 0))).toEqual([160, 80]);
  });

  it('marks the end of a reply only when someone waits for it: an engine at real time with no lead costs no mark per frame', () => {
    const { pb, tw } = setup(200);
    for (let i = 0; i < 20; i++) {
      pb.pushAgentAudio(tone(20, 8000), 8000); // each frame's playout ends before the next arrives
      vi.advanceTimersByTime(20);
    }
    expect(tw.media()).toBe(20);
    expect(tw.marks()).toEqual([]); // fewer than 25 frames: not even a periodic mark
    void pb.whenPlayed(5000);
    expect(tw.marks()).toEqual(['1:1']); // the waiter's mark confirms everything sent so far
  });

  it('marks carry the generation and confirm what the caller has heard', async () => {
    const { pb, tw } = setup(1000);
    pb.pushAgentAudio(tone(600, 8000), 8000); // long enough for a periodic mark (every 500 ms)
    const marks = tw.marks();
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((m) => m.startsWith('1:'))).toBe(true);
    expect(pb.heardMs).toBe(0);
    const played = pb.whenPlayed(5000);
    vi.advanceTimersByTime(600); // the playout reaches the reply's end: its trailing mark goes out
    for (const m of tw.marks()) pb.onMark(m);
    vi.advanceTimersByTime(300); // and the reply has settled: no more audio came
    await expect(played).resolves.toBe('played');
    expect(pb.heardMs).toBe(600);
  });

  it('barge-in sends clear, drops queued audio and ignores the marks clear echoes back', async () => {
    const { pb, tw } = setup(100);
    pb.pushAgentAudio(tone(2000, 16000), 16000);
    const before = tw.marks();
    const waiting = pb.whenPlayed(5000);
    pb.bargeIn();
    expect(tw.sent.at(-1)).toEqual({ kind: 'clear' });
    await expect(waiting).resolves.toBe('interrupted');
    // Twilio echoes every pending mark after clear: none may count as played.
    for (const m of before) expect(pb.onMark(m)).toBe(false);
    expect(pb.heardMs).toBe(0);
    const mediaAfterClear = tw.media();
    vi.advanceTimersByTime(3000);
    expect(tw.media()).toBe(mediaAfterClear); // nothing of the old reply is sent any more
  });

  it('does not apply stale marks from an old generation to a new one', () => {
    const { pb, tw } = setup(1000);
    pb.pushAgentAudio(tone(600, 8000), 8000);
    const old = tw.marks();
    pb.bargeIn();
    pb.pushAgentAudio(tone(600, 8000), 8000);
    const fresh = tw.marks().filter((m) => !old.includes(m));
    expect(fresh.every((m) => m.startsWith('2:'))).toBe(true);
    for (const m of old) pb.onMark(m);
    expect(pb.heardMs).toBe(0);
    for (const m of fresh) pb.onMark(m);
    expect(pb.heardMs).toBe(500); // the periodic mark after 25 frames; the tail's comes later
  });

  it('holds agent audio until a stream is attached, then sends it first and in order', () => {
    const pb = new Playback({ leadMs: 1000, clock: fakeClock() });
    pb.pushAgentAudio(tone(300, 24000), 24000);
    vi.advanceTimersByTime(200);
    const tw = new FakeTwilio();
    pb.attach(tw);
    expect(tw.media()).toBe(15);
    // what is due at one moment goes out as few messages as possible: 200 ms, then the rest
    expect(tw.sent.filter((m) => m.kind === 'media').map((m) => (m.kind === 'media' ? m.bytes : 0))).toEqual([
      1600, 800,
    ]);
  });

  it('a playback whose sink throws stops sending, warns, and does not stop the pacing of another call', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const clock = fakeClock(); // one clock for both calls, as in the bridge
    const bad = new Playback({ leadMs: 100, clock });
    let failing = false;
    const sink = new FakeTwilio();
    bad.attach({
      ...sink,
      sendAudio: (mu: Uint8Array) => {
        if (failing) throw new Error('socket gone');
        sink.sendAudio(mu);
      },
      sendMark: () => {},
      sendClear: () => {},
    });
    const { pb, tw } = setup(100, clock);
    bad.pushAgentAudio(tone(1000, 8000), 8000);
    pb.pushAgentAudio(tone(1000, 8000), 8000);
    failing = true;
    vi.advanceTimersByTime(400);
    expect(warn).toHaveBeenCalled();
    expect(tw.media()).toBeGreaterThanOrEqual(22); // the healthy call kept pacing: 5 up front + ~20
    warn.mockRestore();
  });

  it('paces a reply that outruns real time on the shared clock: one message per tick once the lead is full', () => {
    const { pb, tw } = setup(100);
    pb.pushAgentAudio(tone(1000, 8000), 8000);
    const first = tw.sent.length;
    expect(tw.media()).toBe(5);
    vi.advanceTimersByTime(200);
    // 10 more frames at real time, sent as they fall due (≤ 2 per 20 ms tick), never ahead of the lead
    expect(tw.media()).toBeGreaterThanOrEqual(14);
    expect(tw.media()).toBeLessThanOrEqual(16);
    expect(tw.sent.length - first).toBeLessThanOrEqual(11);
  });

  it('plays hold audio until the agent speaks again, fading it out first', () => {
    const { pb, tw } = setup(60);
    pb.startHold(new HoldPlayer(generateDefaultHold(8000, 2), 8000));
    vi.advanceTimersByTime(1000);
    const holdFrames = tw.media();
    expect(holdFrames).toBeGreaterThanOrEqual(50);
    pb.pushAgentAudio(tone(200, 8000), 8000);
    expect(pb.holding).toBe(false);
    vi.advanceTimersByTime(1000);
    // the fade (≤ 4 frames) and the agent's 10 frames, then silence: no more hold frames
    const total = tw.media();
    expect(total - holdFrames).toBeGreaterThanOrEqual(10);
    expect(total - holdFrames).toBeLessThanOrEqual(14);
  });

  it('stops hold audio by itself after the requested seconds', () => {
    const { pb, tw } = setup(60);
    pb.startHold(new HoldPlayer(generateDefaultHold(8000, 2), 8000), 1);
    vi.advanceTimersByTime(3000);
    expect(tw.media()).toBeGreaterThanOrEqual(50);
    expect(tw.media()).toBeLessThanOrEqual(58);
  });
});
