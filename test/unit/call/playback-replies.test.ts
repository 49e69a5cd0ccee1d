import { describe, expect, it } from 'vitest';
import { ReplyTracker } from '../../../src/call/playback/reply-stats.js';

/** The reply bookkeeping on plain numbers: arrival times, the playhead, whether output was idle. */
describe('ReplyTracker: replies, underruns and the jitter buffer', () => {
  it('first audio after an announced turn starts a reply; its first frame and voice-to-voice are measured', () => {
    const seen: [number, number | undefined][] = [];
    const r = new ReplyTracker(0, { firstFrame: (d, v) => seen.push([d, v]) });
    r.markTurn(900);
    r.noteArrival(1000, false, 0, true, 0);
    expect(r.unsent).toBe(true);
    r.noteSent(1005, 1010, 0, 160);
    expect(r.unsent).toBe(false);
    r.noteSent(1020, 1030, 0, 160); // once per reply
    expect(seen).toEqual([[5, 110]]);
    expect(r.records).toMatchObject([{ firstFrameMs: 5, voiceToVoiceMs: 110, underruns: 0 }]);
  });

  it('audio that finds the playout dry inside a reply is an underrun; the jitter buffer learns it, capped', () => {
    const silences: number[] = [];
    const r = new ReplyTracker(200, { underrun: (ms) => silences.push(ms) });
    r.noteArrival(0, false, 0, true, 0);
    r.noteSent(0, 0, 0, 160);
    r.dryAt = 100;
    r.noteArrival(150, false, 100, true, 0); // 50 ms after the playout ran dry, within the window
    expect(silences).toEqual([50]);
    expect(r.underruns).toBe(1);
    expect(r.jitterBufferMs).toBe(70); // 50 + the 20 ms margin
    expect(r.resumeAt).toBe(220);
    expect(r.records).toHaveLength(1);
    const capped = new ReplyTracker(40, undefined);
    capped.noteArrival(0, false, 0, true, 0);
    capped.noteSent(0, 0, 0, 160);
    capped.noteArrival(150, false, 100, true, 0);
    expect(capped.jitterBufferMs).toBe(40);
  });

  it('no underrun while audio is still queued, output is detached, or audio was held back on purpose', () => {
    const r = new ReplyTracker(200, undefined);
    r.noteArrival(0, true, 0, true, 0);
    r.noteSent(0, 0, 0, 160);
    r.noteArrival(150, true, 100, false, 0); // frames still queued (or no stream): not dry
    r.resumeAt = 300;
    r.noteArrival(160, true, 100, true, 0); // the jitter buffer is holding it back
    r.resumeAt = 0;
    r.noteArrival(161, true, 160.5, true, 0); // dry for under a millisecond: a timer's rounding
    expect(r.underruns).toBe(0);
  });

  it('audio long after the last reply ran dry starts a new reply, behind the learned jitter', () => {
    const r = new ReplyTracker(200, undefined);
    r.noteArrival(0, false, 0, true, 0);
    r.noteSent(0, 0, 0, 160);
    r.dryAt = 100;
    r.noteArrival(150, false, 100, true, 0); // learns 70 ms
    r.dryAt = 300;
    r.noteArrival(801, false, 300, true, 0); // 501 ms after the dry point: a new reply
    expect(r.records).toHaveLength(2);
    expect(r.resumeAt).toBe(871);
    r.noteArrival(900, true, 1200, true, 0); // playout still busy: continuation, nothing learned
    expect(r.records).toHaveLength(2);
  });

  it('a reply that follows audio still playing is not delayed by the jitter buffer', () => {
    const r = new ReplyTracker(200, undefined);
    r.noteArrival(0, false, 0, true, 0);
    r.noteSent(0, 0, 0, 160);
    r.noteArrival(150, false, 100, true, 0); // learns 70 ms, resumeAt 220
    r.markTurn();
    r.noteArrival(1000, true, 1500, true, 0); // a new turn while 500 ms still play
    expect(r.records).toHaveLength(2);
    expect(r.resumeAt).toBe(220); // unchanged: not pushed to 1070
  });

  it('keeps the records of the last 100 replies', () => {
    const r = new ReplyTracker(0, undefined);
    for (let i = 0; i < 120; i++) {
      r.markTurn();
      r.noteArrival(i * 1000, false, 0, true, 0);
    }
    expect(r.records).toHaveLength(100);
  });

  it('after a detach, a reply that was heard is over; one not yet sent goes on', () => {
    const r = new ReplyTracker(0, undefined);
    r.noteArrival(0, true, 0, true, 0);
    r.detach();
    r.noteArrival(10, true, 0, true, 0);
    expect(r.records).toHaveLength(1);
    r.noteSent(10, 10, 0, 160);
    r.detach();
    r.noteArrival(20, true, 0, true, 0);
    expect(r.records).toHaveLength(2);
  });

  it('replies queued before any of them is sent are each matched to the send that carries their first sample', () => {
    const seen: number[] = [];
    const r = new ReplyTracker(0, { firstFrame: (d) => seen.push(d) });
    r.markTurn(0);
    r.noteArrival(100, true, 0, false, 0); // no stream yet: 300 ms queued
    r.markTurn(150);
    r.noteArrival(200, true, 0, false, 2400); // the next turn, behind it in the queue
    expect(r.records).toHaveLength(2);
    r.noteSent(500, 500, 0, 160); // the stream attaches: the first reply is heard
    expect(r.records.map((x) => x.firstFrameMs)).toEqual([400, undefined]);
    r.noteSent(500, 520, 2240, 2400); // the second's first sample is not in this frame
    r.noteSent(520, 800, 2400, 2560);
    expect(r.records.map((x) => x.firstFrameMs)).toEqual([400, 320]);
    expect(r.records[1]!.voiceToVoiceMs).toBe(650);
    expect(seen).toEqual([400, 320]);
  });
});
