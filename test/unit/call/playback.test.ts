import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Playback } from '../../../src/call/playback.js';
import { FakeTwilio, fakeClock, playbackRig, tone } from '../../helpers/playback.js';

describe('Playback pacing and batching', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const setup = playbackRig;

  it('is audible while sent audio is still playing out at the caller, not only while it is queued here', () => {
    const { pb } = setup(1000); // a 1 s lead: the whole reply leaves our queue at once
    expect(pb.audible).toBe(false);
    pb.pushAgentAudio(tone(600, 8000), 8000);
    expect(pb.queuedMs).toBe(0); // everything is already at Twilio…
    expect(pb.audible).toBe(true); // …and the caller is hearing it
    vi.advanceTimersByTime(500);
    expect(pb.audible).toBe(true);
    vi.advanceTimersByTime(200); // past the end of the 600 ms of audio
    expect(pb.audible).toBe(false);
    pb.pushAgentAudio(tone(400, 8000), 8000);
    pb.bargeIn(); // the caller cut in: Twilio dropped its buffer, nothing is heard any more
    expect(pb.audible).toBe(false);
  });

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
});
