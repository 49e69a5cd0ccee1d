import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planDigit } from '../../../src/rtp/dtmf-plan.js';
import { DtmfReceiver, type ReceivedDigit } from '../../../src/rtp/dtmf-receiver.js';
import { buildRtp, parseRtp, type RtpPacket } from '../../../src/rtp/packet.js';
import { buildTelephoneEvent, parseTelephoneEvent } from '../../../src/rtp/telephone-event.js';

/** What a sender puts on the wire for `digits`: per digit, updates then three end packets. */
function wire(digits: string, opts: { ssrc: number; ts0: number; marker: boolean; seq0?: number }): RtpPacket[] {
  const out: RtpPacket[] = [];
  let seq = opts.seq0 ?? 100;
  let ts = opts.ts0;
  for (const d of digits) {
    for (const p of planDigit(d)!) {
      out.push(
        parseRtp(
          buildRtp({
            marker: opts.marker && p.marker,
            payloadType: 101,
            sequence: seq++,
            timestamp: ts,
            ssrc: opts.ssrc,
            payload: p.payload,
          }),
        )!,
      );
    }
    ts += 8000; // the next digit starts later
  }
  return out;
}

describe('RFC 4733 digit plan', () => {
  it('lasts at least 100 ms, marks the first packet, ends with three end packets of the full duration', () => {
    const plan = planDigit('5')!;
    const events = plan.map((p) => parseTelephoneEvent(p.payload)!);
    expect(plan.map((p) => p.marker)).toEqual([true, false, false, false, false, false, false, false]);
    expect(events.map((e) => e.duration)).toEqual([160, 320, 480, 640, 800, 800, 800, 800]);
    expect(events.map((e) => e.end)).toEqual([false, false, false, false, false, true, true, true]);
    expect(events.every((e) => e.event === 5)).toBe(true);
    expect(planDigit('#', 30)!.length).toBe(8); // shorter asked: still 100 ms
    expect(planDigit('1', 250)!.length).toBe(13 + 3);
    expect(planDigit('x')).toBeUndefined();
  });

  it('round-trips event payloads', () => {
    fc.assert(
      fc.property(fc.nat(255), fc.boolean(), fc.nat(63), fc.nat(0xffff), (event, end, volume, duration) => {
        expect(parseTelephoneEvent(buildTelephoneEvent({ event, end, volume, duration }))).toEqual({
          event,
          end,
          volume,
          duration,
        });
      }),
    );
  });
});

describe('RFC 4733 receiver', () => {
  const collect = () => {
    const got: ReceivedDigit[] = [];
    return { got, rx: new DtmfReceiver((d) => got.push(d)) };
  };

  it('gives each digit once, with or without the marker bit', () => {
    for (const marker of [true, false]) {
      const { got, rx } = collect();
      wire('1234#', { ssrc: 7, ts0: 1000, marker }).forEach((p) => rx.onPacket(p));
      expect(got.map((d) => d.digit).join('')).toBe('1234#');
      expect(rx.endedEvents).toBe(5);
    }
  });

  it('gives each digit once when the first packets are lost or packets come in any order and repeated', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.nat(3)), { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (shuffle, ts0) => {
          const packets = wire('159', { ssrc: 9, ts0, marker: true });
          // any order (each packet repeated 1-4 times), all of a digit lost except its end packets at worst
          const arrivals = packets.flatMap((p, i) => {
            const [k, reps] = shuffle[i % shuffle.length]!;
            return Array.from({ length: reps + 1 }, (_, r) => ({ p, key: (k + r * 7) % 50 }));
          });
          arrivals.sort((a, b) => a.key - b.key);
          const { got, rx } = collect();
          arrivals.forEach((a) => rx.onPacket(a.p));
          expect(got.map((d) => d.digit).sort()).toEqual(['1', '5', '9']);
        },
      ),
    );
  });

  it('keeps digits apart on the same or their own SSRC, interleaved with another stream', () => {
    const { got, rx } = collect();
    const a = wire('12', { ssrc: 1, ts0: 0, marker: true });
    const b = wire('12', { ssrc: 2, ts0: 0, marker: false }); // same timestamps, other SSRC
    for (let i = 0; i < a.length; i++) {
      rx.onPacket(a[i]!);
      rx.onPacket(b[i]!);
    }
    expect(got.map((d) => `${d.ssrc}:${d.digit}`)).toEqual(['1:1', '2:1', '1:2', '2:2']);
  });

  it('ignores events that are not digits and short payloads', () => {
    const { got, rx } = collect();
    const pkt = (payload: Buffer) =>
      parseRtp(buildRtp({ marker: true, payloadType: 101, sequence: 1, timestamp: 1, ssrc: 1, payload }))!;
    rx.onPacket(pkt(buildTelephoneEvent({ event: 16, end: false, volume: 10, duration: 160 })));
    rx.onPacket(pkt(Buffer.from([1, 2])));
    expect(got).toEqual([]);
  });

  it('stays bounded over a long call', () => {
    const { got, rx } = collect();
    wire('1'.repeat(1000), { ssrc: 3, ts0: 0, marker: true }).forEach((p) => rx.onPacket(p));
    expect(got.length).toBe(1000);
  });
});
