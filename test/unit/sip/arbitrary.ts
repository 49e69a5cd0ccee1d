import fc from 'fast-check';
import type { SipHeader } from '../../../src/sip/headers.js';
import type { SipMessage } from '../../../src/sip/message.js';

/** Arbitrary well-formed SIP messages, headers already in canonical form (what parsing yields). */
const tokenChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!%*_+`'~-");
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 12 });
const valueChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 ;=<>@:,."/+-_'.split(''));
const value = fc
  .string({ unit: valueChar, minLength: 1, maxLength: 40 })
  .map((s) => s.trim())
  .filter((s) => s.length > 0);
const methodArb = fc.constantFrom('INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'REFER', 'NOTIFY');

export const extraHeader: fc.Arbitrary<SipHeader> = fc.record({
  name: fc.constantFrom('X-Custom', 'Max-Forwards', 'User-Agent', 'Allow', 'Contact', 'Supported', 'Route'),
  value,
});

export const sipMessage: fc.Arbitrary<SipMessage> = fc
  .record({
    isRequest: fc.boolean(),
    method: methodArb,
    status: fc.integer({ min: 100, max: 699 }),
    reason: fc.constantFrom('OK', 'Trying', 'Not Found', 'Request Terminated', ''),
    uri: fc.tuple(token, fc.integer({ min: 1, max: 65535 })).map(([u, p]) => `sip:${u}@127.0.0.1:${p}`),
    vias: fc.array(token, { minLength: 1, maxLength: 3 }),
    callId: token,
    seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    extra: fc.array(extraHeader, { maxLength: 5 }),
    body: fc.uint8Array({ maxLength: 300 }),
  })
  .map((r) => {
    const headers: SipHeader[] = [
      ...r.vias.map((b) => ({ name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK${b}` })),
      { name: 'From', value: '<sip:a@127.0.0.1>;tag=1' },
      { name: 'To', value: '<sip:b@127.0.0.1>' },
      { name: 'Call-ID', value: r.callId },
      { name: 'CSeq', value: `${r.seq} ${r.method}` },
      ...r.extra,
    ];
    const body = Buffer.from(r.body);
    return r.isRequest
      ? { kind: 'request' as const, method: r.method, uri: r.uri, headers, body }
      : { kind: 'response' as const, status: r.status, reason: r.reason, headers, body };
  });

/** Splits `buf` at the given cut points (any order, any duplicates). */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}
