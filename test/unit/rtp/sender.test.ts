import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualPaceClock } from '../../../src/call/pace-clock.js';
import { DtmfReceiver } from '../../../src/rtp/dtmf-receiver.js';
import { parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { RtpSender } from '../../../src/rtp/sender.js';
import { parseTelephoneEvent } from '../../../src/rtp/telephone-event.js';

function setup(lateness: () => number = () => 0, te = true) {
  const clock = new ManualPaceClock(lateness);
  const sent: { at: number; p: RtpPacket }[] = [];
  const sender = new RtpSender({
    clock,
    payloadType: 0,
    silence: 0xff,
    send: (b) => sent.push({ at: clock.now(), p: parseRtp(b)! }),
    ...(te ? { telephoneEventPt: 101 } : {}),
    ssrc: 0x1234,
    sequence: 65530,
    timestamp: 2 ** 32 - 320,
  });
  return { clock, sent, sender };
}

const frame = (v: number) => new Uint8Array(160).fill(v);

describe('RTP sender on the playout clock', () => {
  it('sends one 160-byte packet per 20 ms, sequence +1 and timestamp +160 across their wraps', () => {
    const { clock, sent, sender } = setup();
    sender.start();
    for (let i = 0; i < 10; i++) sender.enqueue(frame(i));
    clock.advanceTo(200);
    expect(sent.map((s) => s.at)).toEqual([20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    for (let i = 1; i < sent.length; i++) {
      expect((sent[i]!.p.sequence - sent[i - 1]!.p.sequence) & 0xffff).toBe(1);
      expect((sent[i]!.p.timestamp - sent[i - 1]!.p.timestamp) >>> 0).toBe(160);
    }
    expect(sent.map((s) => s.p.payload[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(sent.every((s) => s.p.payload.length === 160 && s.p.ssrc === 0x1234)).toBe(true);
    expect(sent.map((s) => s.p.marker)).toEqual([true, ...Array(9).fill(false)]);
  });

  it('re-cuts any chunk sizes into frames, in order, and sends silence when empty', () => {
    const { clock, sent, sender } = setup();
    sender.start();
    const bytes = new Uint8Array(400).map((_, i) => i & 0x7f);
    sender.enqueue(bytes.subarray(0, 7));
    sender.enqueue(bytes.subarray(7, 333));
    sender.enqueue(bytes.subarray(333));
    clock.advanceTo(80);
    const payload = Buffer.concat(sent.map((s) => s.p.payload));
    expect(payload.subarray(0, 320)).toEqual(Buffer.from(bytes.subarray(0, 320)));
    expect(payload.subarray(320).every((b) => b === 0xff)).toBe(true); // 80 bytes wait for more
    expect(sender.queuedFrames).toBe(0);
  });

  it('keeps the count of packets equal to elapsed slots under late ticks, within the burst cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(60), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 5000 }),
        (late, until) => {
          let i = 0;
          const { clock, sent, sender } = setup(() => late[i++ % late.length]!);
          sender.start();
          clock.advanceTo(until);
          // never ahead of real time, and never behind by more than a late tick's worth
          expect(sent.length).toBeLessThanOrEqual(Math.floor(until / 20));
          for (const s of sent) expect(s.p.payload.length).toBe(160);
        },
      ),
    );
  });

  it('restarts the schedule after a long stall instead of flooding', () => {
    const { clock, sent, sender } = setup(() => 0);
    sender.start();
    clock.advanceTo(20);
    // one tick 1 s late: the ManualPaceClock models it by lateness; here simply jump time with no member ticks
    clock.members.clear();
    clock.advanceTo(1020);
    clock.members.add(sender);
    clock.advanceTo(1040);
    expect(sent.length).toBeLessThanOrEqual(1 + 5);
  });

  it('clears queued audio on barge-in', () => {
    const { clock, sent, sender } = setup();
    sender.start();
    for (let i = 0; i < 5; i++) sender.enqueue(frame(1));
    clock.advanceTo(20);
    sender.clear();
    clock.advanceTo(60);
    expect(sent.map((s) => s.p.payload[0])).toEqual([1, 0xff, 0xff]);
  });

  it('sends digits as RFC 4733 events with a fixed timestamp, audio resuming after them in time', () => {
    const { clock, sent, sender } = setup();
    sender.start();
    for (let i = 0; i < 30; i++) sender.enqueue(frame(7));
    expect(sender.sendDigits('12')).toBe(true);
    clock.advanceTo(1000);
    const ev = sent.filter((s) => s.p.payloadType === 101);
    expect(ev.length).toBe(16);
    const first = ev.slice(0, 8);
    expect(new Set(first.map((s) => s.p.timestamp)).size).toBe(1);
    expect(first[0]!.p.marker).toBe(true);
    expect(first.map((s) => parseTelephoneEvent(s.p.payload)!.end)).toEqual([
      ...Array(5).fill(false),
      true,
      true,
      true,
    ]);
    // 8 event slots, 3 gap slots of silence, 8 more, then the queued audio
    const kinds = sent.slice(0, 22).map((s) => (s.p.payloadType === 101 ? 'e' : s.p.payload[0] === 7 ? 'a' : 's'));
    expect(kinds.join('')).toBe('eeeeeeee' + 'sss' + 'eeeeeeee' + 'aaa');
    const firstAudio = sent[19]!.p;
    expect((firstAudio.timestamp - first[0]!.p.timestamp) >>> 0).toBe(19 * 160);
    // every packet has its own sequence number
    expect(new Set(sent.map((s) => s.p.sequence)).size).toBe(sent.length);
    const got: string[] = [];
    const rx = new DtmfReceiver((d) => got.push(d.digit));
    ev.forEach((s) => rx.onPacket(s.p));
    expect(got.join('')).toBe('12');
  });

  it('refuses digits when telephone-event was not negotiated, or an unknown digit', () => {
    expect(setup(() => 0, false).sender.sendDigits('1')).toBe(false);
    expect(setup().sender.sendDigits('1x')).toBe(false);
  });

  it('stops sending when stopped', () => {
    const { clock, sent, sender } = setup();
    sender.start();
    clock.advanceTo(40);
    sender.stop();
    clock.advanceTo(400);
    expect(sent.length).toBe(2);
    expect(clock.members.size).toBe(0);
  });
});
