import { describe, expect, it } from 'vitest';
import { parseNameAddr, parseSipUri } from '../../../src/sip/uri.js';
import { formatVia, parseVia, replaceTopVia, responseDestination, stampVia, topVia } from '../../../src/sip/via.js';

describe('Via', () => {
  it('parses transport, host, port and params, and formats back', () => {
    const v = parseVia('SIP/2.0/udp 127.0.0.1:5070;branch=z9hG4bK1;rport');
    expect(v).toEqual({ transport: 'UDP', host: '127.0.0.1', port: 5070, params: { branch: 'z9hG4bK1', rport: null } });
    expect(formatVia(v!)).toBe('SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1;rport');
    expect(parseVia('SIP/2.0/TCP [::1]:5060;branch=x')?.host).toBe('[::1]');
    expect(parseVia('SIP/2.0/UDP host:99999')).toBeUndefined();
    expect(parseVia('garbage')).toBeUndefined();
  });

  it('adds received when the sent-by host is not the source, and fills rport when asked (RFC 3581)', () => {
    const src = { address: '127.0.0.2', port: 40000 };
    const asked = stampVia(parseVia('SIP/2.0/UDP 127.0.0.1:5070;branch=b;rport')!, src);
    expect(asked.params).toEqual({ branch: 'b', rport: '40000', received: '127.0.0.2' });
    const same = stampVia(parseVia('SIP/2.0/UDP 127.0.0.2:5070;branch=b')!, src);
    expect(same.params).toEqual({ branch: 'b' });
    const differs = stampVia(parseVia('SIP/2.0/UDP pbx.example.com;branch=b')!, src);
    expect(differs.params.received).toBe('127.0.0.2');
  });

  it('sends the response to received:rport, else received:sent-by port, else sent-by (§18.2.2)', () => {
    const d = (s: string) => responseDestination(parseVia(s)!);
    expect(d('SIP/2.0/UDP 10.9.9.9:5070;received=127.0.0.2;rport=40000')).toEqual({
      transport: 'udp',
      address: '127.0.0.2',
      port: 40000,
    });
    expect(d('SIP/2.0/UDP 10.9.9.9:5070;received=127.0.0.2')).toEqual({
      transport: 'udp',
      address: '127.0.0.2',
      port: 5070,
    });
    expect(d('SIP/2.0/TCP 127.0.0.3')).toEqual({ transport: 'tcp', address: '127.0.0.3', port: 5060 });
    expect(d('SIP/2.0/SCTP 127.0.0.3')).toBeUndefined();
  });

  it('replaces only the top element of a combined Via line', () => {
    const headers = [
      { name: 'Via', value: 'SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2' },
      { name: 'Via', value: 'SIP/2.0/UDP c;branch=3' },
    ];
    const v = stampVia(topVia(headers)!, { address: '127.0.0.1', port: 1 });
    expect(replaceTopVia(headers, v)).toEqual([
      { name: 'Via', value: 'SIP/2.0/UDP a;branch=1;received=127.0.0.1, SIP/2.0/UDP b;branch=2' },
      { name: 'Via', value: 'SIP/2.0/UDP c;branch=3' },
    ]);
  });
});

describe('SIP URIs', () => {
  it('reads user, host, port and params', () => {
    expect(parseSipUri('sip:+1%20555@Example.com:5080;transport=tcp?x=y')).toEqual({
      scheme: 'sip',
      user: '+1 555',
      host: 'example.com',
      port: 5080,
      params: { transport: 'tcp' },
    });
    expect(parseSipUri('sip:alice:secret@[::1]')).toEqual({ scheme: 'sip', user: 'alice', host: '[::1]', params: {} });
    expect(parseSipUri('tel:+15551234567;phone-context=x')?.user).toBe('+15551234567');
    expect(parseSipUri('http://x')).toBeUndefined();
    expect(parseSipUri('sip:a@h:70000')).toBeUndefined();
  });

  it('reads name-addr with and without brackets', () => {
    expect(parseNameAddr('"Smith, J" <sip:j@h;transport=udp>;tag=9')).toEqual({
      display: 'Smith, J',
      uri: 'sip:j@h;transport=udp',
      params: { tag: '9' },
    });
    expect(parseNameAddr('sip:j@h;tag=9')).toEqual({ uri: 'sip:j@h', params: { tag: '9' } });
    expect(parseNameAddr('<sip:j@h')).toBeUndefined();
  });
});
