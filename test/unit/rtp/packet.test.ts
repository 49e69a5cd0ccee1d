import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRtp, isRtcp, parseRtp, type RtpInit } from '../../../src/rtp/packet.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const packet: fc.Arbitrary<RtpInit> = fc.record(
  {
    marker: fc.boolean(),
    // 72–95 would read as RTCP with the marker set (RFC 5761 reserves them)
    payloadType: fc.integer({ min: 0, max: 127 }).filter((pt) => pt < 64 || pt > 95),
    sequence: fc.integer({ min: 0, max: 0xffff }),
    timestamp: u32,
    ssrc: u32,
    csrc: fc.array(u32, { maxLength: 15 }),
    extension: fc.record({
      profile: fc.integer({ min: 0, max: 0xffff }),
      data: fc
        .integer({ min: 0, max: 8 })
        .chain((w) => fc.uint8Array({ minLength: w * 4, maxLength: w * 4 }))
        .map((b) => Buffer.from(b)),
    }),
    payload: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
    padding: fc.integer({ min: 0, max: 255 }),
  },
  { requiredKeys: ['marker', 'payloadType', 'sequence', 'timestamp', 'ssrc', 'payload'] },
);

describe('RTP packets', () => {
  it('round-trips any header, CSRC list, extension, payload and padding', () => {
    fc.assert(
      fc.property(packet, (p) => {
        const got = parseRtp(buildRtp(p));
        expect(got).toBeDefined();
        expect({ ...got, payload: Buffer.from(got!.payload) }).toEqual({
          ...p,
          csrc: p.csrc ?? [],
          padding: p.padding ?? 0,
        });
      }),
    );
  });

  it('reads a captured PCMU packet header', () => {
    // 80 00 1234 00000a00 deadbeef + 160 bytes
    const wire = Buffer.concat([Buffer.from('80001234' + '00000a00' + 'deadbeef', 'hex'), Buffer.alloc(160, 0xff)]);
    expect(parseRtp(wire)).toMatchObject({
      marker: false,
      payloadType: 0,
      sequence: 0x1234,
      timestamp: 0xa00,
      ssrc: 0xdeadbeef,
      csrc: [],
      padding: 0,
    });
    expect(parseRtp(wire)!.payload.length).toBe(160);
  });

  it('refuses short, wrong-version, RTCP and inconsistent packets, never throwing', () => {
    expect(parseRtp(Buffer.alloc(11))).toBeUndefined();
    expect(parseRtp(Buffer.from('40000000000000000000000000', 'hex'))).toBeUndefined(); // version 1
    const rtcp = Buffer.from('80c8000600000001' + '00'.repeat(20), 'hex'); // sender report
    expect(isRtcp(rtcp)).toBe(true);
    expect(parseRtp(rtcp)).toBeUndefined();
    expect(parseRtp(Buffer.from('8f00000000000000000000000000', 'hex'))).toBeUndefined(); // 15 CSRCs announced
    expect(parseRtp(Buffer.from('a0000000000000000000000000', 'hex'))).toBeUndefined(); // padding count 0
    expect(parseRtp(Buffer.from('9000000000000000000000000001ffff', 'hex'))).toBeUndefined(); // extension past end
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => void parseRtp(Buffer.from(b))),
      { numRuns: 5000 },
    );
  });
});
