import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SipMessage } from '../../../src/sip/message.js';
import { serialize, withoutContentLength } from '../../../src/sip/serialize.js';
import { SipStreamFramer } from '../../../src/sip/stream-framer.js';
import { sipMessage, splitAt } from './arbitrary.js';

const normal = (m: SipMessage): SipMessage => ({ ...m, headers: withoutContentLength(m.headers) });

describe('SIP over a byte stream', () => {
  it('yields the same messages whatever the chunking, keep-alive CRLFs between them', () => {
    fc.assert(
      fc.property(
        fc.array(sipMessage, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.boolean(),
        (msgs, cuts, keepAlive) => {
          const parts = msgs.flatMap((m) => (keepAlive ? [Buffer.from('\r\n\r\n'), serialize(m)] : [serialize(m)]));
          const stream = Buffer.concat(parts);
          const framer = new SipStreamFramer();
          const got = splitAt(stream, cuts).flatMap((c) => framer.push(Buffer.from(c)));
          expect(got.every((r) => r.ok)).toBe(true);
          expect(got.map((r) => (r.ok ? normal(r.message) : r))).toEqual(msgs.map(normal));
          expect(framer.buffered).toBe(0);
        },
      ),
    );
  });

  it('delivers byte by byte', () => {
    const m = fc.sample(sipMessage, { numRuns: 1, seed: 7 })[0]!;
    const wire = serialize(m);
    const framer = new SipStreamFramer();
    const got = [];
    for (let i = 0; i < wire.length; i++) got.push(...framer.push(wire.subarray(i, i + 1)));
    expect(got).toHaveLength(1);
  });

  it('breaks the stream when headers never end within the cap, holding no more than the cap', () => {
    const framer = new SipStreamFramer(1024);
    const results = [];
    for (let i = 0; i < 20 && !framer.broken; i++) results.push(...framer.push(Buffer.alloc(100, 0x41)));
    expect(framer.broken).toBe(true);
    expect(results).toEqual([expect.objectContaining({ ok: false, error: 'too_large' })]);
    expect(framer.buffered).toBe(0);
    expect(framer.push(Buffer.from('anything'))).toEqual([]);
  });

  it('breaks the stream on a Content-Length beyond the cap without waiting for the body', () => {
    const framer = new SipStreamFramer(1024);
    const r = framer.push(Buffer.from('INVITE sip:x SIP/2.0\r\nContent-Length: 5000\r\n\r\n'));
    expect(r).toEqual([expect.objectContaining({ ok: false, error: 'too_large' })]);
    expect(framer.broken).toBe(true);
  });

  it('reports a well-framed but malformed message and goes on with the next', () => {
    const good = fc.sample(sipMessage, { numRuns: 1, seed: 3 })[0]!;
    const framer = new SipStreamFramer();
    const r = framer.push(Buffer.concat([Buffer.from('HELLO\r\nContent-Length: 0\r\n\r\n'), serialize(good)]));
    expect(r.map((x) => x.ok)).toEqual([false, true]);
  });

  it('never throws and stays bounded on arbitrary bytes in arbitrary chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }), (chunks) => {
        const framer = new SipStreamFramer(2048);
        for (const c of chunks) {
          framer.push(Buffer.from(c));
          expect(framer.buffered).toBeLessThanOrEqual(2048 + 600);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
