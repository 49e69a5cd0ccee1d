import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MarkLedger } from '../../../src/call/playback/mark-ledger.js';
import { playbackRig, tone } from '../../helpers/playback.js';

describe('Playback marks: what the caller heard', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const setup = playbackRig;

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
});

describe('MarkLedger', () => {
  afterEach(() => vi.useRealTimers());

  it('a periodic mark is due after every 500 ms of audio sent, and names its generation', () => {
    const l = new MarkLedger();
    for (let i = 0; i < 24; i++) expect(l.sent(160)).toBe(false);
    expect(l.sent(160)).toBe(true);
    expect(l.nextMark()).toBe('0:1');
    expect(l.samplesSinceMark).toBe(0);
    l.newGeneration();
    l.sent(80);
    expect(l.nextMark()).toBe('1:2');
  });

  it('a mark echo confirms what was sent before it, and the marks before it with it', () => {
    const l = new MarkLedger();
    l.sent(1600);
    const a = l.nextMark();
    l.sent(1600);
    const b = l.nextMark();
    expect(l.onMark(b)).toBe(true); // Twilio plays in order: b confirms a's audio too
    expect(l.heardSamples).toBe(3200);
    expect(l.framesPlayed).toBe(20);
    expect(l.onMark(a)).toBe(false); // already confirmed: unknown now, counts nothing twice
    expect(l.heardSamples).toBe(3200);
    expect(l.drained(0, true)).toBe(true);
  });

  it('marks of an old generation, and names that are no marks of ours, are stale', () => {
    const l = new MarkLedger();
    l.sent(800);
    const old = l.nextMark();
    l.newGeneration();
    expect(l.onMark(old)).toBe(false);
    expect(l.onMark('no-colon')).toBe(false);
    expect(l.onMark('1:99')).toBe(false); // current generation, never sent: unknown, not stale
    expect(l.staleMarks).toBe(2);
    expect(l.heardSamples).toBe(0);
  });

  it('is drained only when idle, with no mark unconfirmed and the settle time passed', () => {
    const l = new MarkLedger();
    expect(l.drained(0, false)).toBe(false);
    l.sent(160);
    l.nextMark();
    expect(l.drained(0, true)).toBe(false);
    l.onMark('0:1');
    l.settleAt = 200;
    expect(l.drained(199, true)).toBe(false);
    expect(l.drained(200, true)).toBe(true);
  });

  it('waiters learn interrupted on a new generation or a lost stream, unless kept for a new stream; timeout otherwise', async () => {
    vi.useFakeTimers();
    const l = new MarkLedger();
    const a = l.wait(1000);
    l.newGeneration(true); // a new stream: the waiter waits for what it plays
    expect(l.waiting).toBe(true);
    l.newGeneration();
    await expect(a).resolves.toBe('interrupted');
    const b = l.wait(1000);
    l.lost();
    await expect(b).resolves.toBe('interrupted');
    const c = l.wait(1000);
    vi.advanceTimersByTime(1000);
    await expect(c).resolves.toBe('timeout');
    expect(l.waiting).toBe(false);
    const d = l.wait(1000);
    l.settle('closed');
    await expect(d).resolves.toBe('closed');
    expect(vi.getTimerCount()).toBe(0);
  });
});
