import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HoldMix } from '../../../src/call/playback/hold-mix.js';
import { OutboundQueue } from '../../../src/call/playback/outbound-queue.js';
import { HoldPlayer, generateDefaultHold } from '../../../src/audio/index.js';
import { playbackRig, tone } from '../../helpers/playback.js';

describe('Playback hold audio', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const setup = playbackRig;

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

describe('HoldMix', () => {
  const player = () => new HoldPlayer(generateDefaultHold(8000, 2), 8000);

  it('fills frames until its time is up, then fades out over 40 ms and ends', () => {
    const h = new HoldMix();
    h.start(player(), 100);
    const into = new Uint8Array(160);
    let frames = 0;
    for (let now = 0; h.active && h.readFrame(now, into); now += 20) frames++;
    expect(h.active).toBe(false);
    expect(frames).toBeGreaterThanOrEqual(5 + 1); // 100 ms, then the fade
    expect(frames).toBeLessThanOrEqual(5 + 3);
  });

  it('stop fades out on the pacing; fadeInto puts the fade (at most 4 frames) into the queue at once', () => {
    const h = new HoldMix();
    h.start(player(), Number.POSITIVE_INFINITY);
    const into = new Uint8Array(160);
    for (let i = 0; i < 10; i++) expect(h.readFrame(i * 20, into)).toBe(true);
    h.stop();
    let more = 0;
    while (h.readFrame(0, into)) more++;
    expect(more).toBeGreaterThanOrEqual(1);
    expect(more).toBeLessThanOrEqual(3);
    const q = new OutboundQueue(1000);
    h.start(player(), Number.POSITIVE_INFINITY);
    h.fadeInto(q);
    expect(h.active).toBe(false);
    expect(q.length).toBeGreaterThan(0);
    expect(q.length).toBeLessThanOrEqual(4 * 160);
  });
});
