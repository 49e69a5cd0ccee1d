import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalName, getHeaders, splitList } from '../../../src/sip/headers.js';
import { header, type SipMessage } from '../../../src/sip/message.js';
import { parseMessage } from '../../../src/sip/parse.js';
import { serialize, withoutContentLength } from '../../../src/sip/serialize.js';
import { sipMessage } from './arbitrary.js';

const INVITE = [
  'INVITE sip:+15551234567@127.0.0.1:5060 SIP/2.0',
  'v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport',
  'VIA: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK2, SIP/2.0/TCP 127.0.0.1:5090;branch=z9hG4bK3',
  'f: "Alice, the caller" <sip:alice@127.0.0.1>;tag=abc',
  't: <sip:+15551234567@127.0.0.1>',
  'i: call-1@127.0.0.1',
  'cseq: 1 INVITE',
  'm: <sip:alice@127.0.0.1:5070>',
  'Subject: a folded',
  '  header value',
  '\tover three lines',
  'k: timer',
  'c: application/sdp',
  'l: 4',
  '',
  'v=0\r\nEXTRA',
].join('\r\n');

const normal = (m: SipMessage): SipMessage => ({ ...m, headers: withoutContentLength(m.headers) });

describe('SIP message parsing', () => {
  it('reads compact forms, any case, folded headers and every Via', () => {
    const r = parseMessage(Buffer.from(INVITE));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const m = r.message;
    expect(m.kind).toBe('request');
    expect(header(m, 'call-id')).toBe('call-1@127.0.0.1');
    expect(header(m, 'i')).toBe('call-1@127.0.0.1');
    expect(header(m, 'Subject')).toBe('a folded header value over three lines');
    expect(header(m, 'content-type')).toBe('application/sdp');
    expect(header(m, 'Supported')).toBe('timer');
    expect(getHeaders(m.headers, 'via')).toEqual([
      'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport',
      'SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK2',
      'SIP/2.0/TCP 127.0.0.1:5090;branch=z9hG4bK3',
    ]);
    expect(m.body.toString()).toBe('v=0\r'.slice(0, 4)); // cut at Content-Length: 4
  });

  it('does not split a quoted display name or a bracketed URI at its comma', () => {
    expect(splitList('"a, b" <sip:x@h>, <sip:y@h;p=1,2>')).toEqual(['"a, b" <sip:x@h>', '<sip:y@h;p=1,2>']);
  });

  it('expands every compact form to its long name', () => {
    const pairs = { v: 'Via', f: 'From', t: 'To', i: 'Call-ID', m: 'Contact', l: 'Content-Length' };
    for (const [c, long] of Object.entries(pairs)) expect(canonicalName(c.toUpperCase())).toBe(long);
    expect(canonicalName('c')).toBe('Content-Type');
    expect(canonicalName('k')).toBe('Supported');
    expect(canonicalName('cSeQ')).toBe('CSeq');
    expect(canonicalName('user-agent')).toBe('User-Agent');
  });

  it('reads a status line', () => {
    const r = parseMessage(
      Buffer.from(
        'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n',
      ),
    );
    expect(r.ok && r.message.kind === 'response' && r.message.status).toBe(180);
  });

  it('refuses what is not a message, with a reason', () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['\r\n\r\n', 'empty'],
      ['HELLO\r\n\r\n', 'missing_header'],
      ['INVITE sip:x SIP/2.0\r\nVia x\r\n\r\n', 'bad_header'],
      ['INVITE sip:x SIP/2.0\r\n folded first\r\n\r\n', 'bad_header'],
      [INVITE.replace('l: 4', 'l: 99'), 'truncated_body'],
      [INVITE.replace('l: 4', 'l: -1'), 'bad_content_length'],
      [INVITE.replace('cseq: 1 INVITE', 'cseq: 1 BYE'), 'bad_cseq'],
      [INVITE.replace('cseq: 1 INVITE', 'cseq: x INVITE'), 'bad_cseq'],
      [INVITE.replace('INVITE sip:', 'INVITE  sip:'), 'bad_start_line'],
      [INVITE.replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), 'bad_start_line'],
    ];
    for (const [text, error] of cases) {
      const r = parseMessage(Buffer.from(text));
      expect({ text, error: r.ok ? 'ok' : r.error }).toEqual({ text, error });
    }
  });

  it('refuses a message over the size cap before reading it', () => {
    const big = Buffer.concat([Buffer.from(INVITE), Buffer.alloc(70_000, 0x41)]);
    const r = parseMessage(big);
    expect(!r.ok && r.error).toBe('too_large');
    expect(parseMessage(Buffer.from(INVITE), { maxBytes: 100 }).ok).toBe(false);
  });

  it('round-trips any message through serialize and parse', () => {
    fc.assert(
      fc.property(sipMessage, (m) => {
        const r = parseMessage(serialize(m));
        expect(r.ok).toBe(true);
        if (r.ok) expect(normal(r.message)).toEqual(normal(m));
      }),
    );
  });

  it('never throws on garbage, and answers with an error or a message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const r = parseMessage(Buffer.from(bytes));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutations of a real INVITE', () => {
    const base = Buffer.from(INVITE);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
        (edits) => {
          const b = Buffer.from(base);
          for (const [i, v] of edits) b[i] = v;
          expect(typeof parseMessage(b).ok).toBe('boolean');
        },
      ),
      { numRuns: 2000 },
    );
  });
});
