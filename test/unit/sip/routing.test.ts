import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isScanner, TrunkSelector } from '../../../src/sip/admission.js';
import { AddressList, parseCidr } from '../../../src/sip/cidr.js';
import { DropCounts } from '../../../src/sip/drops.js';
import { dialledNumber, normaliseE164 } from '../../../src/sip/e164.js';
import type { SipRequest } from '../../../src/sip/message.js';

function invite(uri: string, to = '<sip:bridge@127.0.0.1>', ua?: string): SipRequest {
  return {
    kind: 'request',
    method: 'INVITE',
    uri,
    headers: [{ name: 'To', value: to }, ...(ua ? [{ name: 'User-Agent', value: ua }] : [])],
    body: Buffer.alloc(0),
  };
}

describe('E.164 normalisation', () => {
  it('removes separators and adds the missing +', () => {
    expect(normaliseE164('+1 (555) 123-4567')).toBe('+15551234567');
    expect(normaliseE164('15551234567')).toBe('+15551234567');
    expect(normaliseE164('44.20.7946.0018')).toBe('+442079460018');
    expect(normaliseE164('+15551234567;npdi')).toBe('+15551234567');
  });

  it('refuses fewer than 7 or more than 15 digits, a leading zero, and non-digits', () => {
    for (const u of ['123456', '+1234567890123456', '0015551234567', 'alice', '+1555abc4567', '', '+']) {
      expect([u, normaliseE164(u)]).toEqual([u, undefined]);
    }
    expect(normaliseE164('1234567')).toBe('+1234567');
    expect(normaliseE164('123456789012345')).toBe('+123456789012345');
  });

  it('keeps exactly the digits of any separated valid number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 6, maxLength: 14 }),
        fc.array(fc.constantFrom(' ', '-', '.', '(', ')', ''), { minLength: 15, maxLength: 15 }),
        fc.boolean(),
        (first, rest, seps, plus) => {
          const digits = [first, ...rest].join('');
          const written = (plus ? '+' : '') + [...digits].map((d, i) => d + seps[i]!).join('');
          expect(normaliseE164(written)).toBe(`+${digits}`);
        },
      ),
    );
  });

  it('reads the Request-URI user, else the To user, else answers 404', () => {
    expect(dialledNumber(invite('sip:+15551234567@127.0.0.1'))).toEqual({ ok: true, number: '+15551234567' });
    expect(dialledNumber(invite('sip:127.0.0.1', '"x" <sip:1-555-123-4567@127.0.0.1>;tag=1'))).toEqual({
      ok: true,
      number: '+15551234567',
    });
    expect(dialledNumber(invite('tel:+442079460018'))).toEqual({ ok: true, number: '+442079460018' });
    expect(dialledNumber(invite('sip:alice@127.0.0.1'))).toMatchObject({ ok: false, status: 404 });
    expect(dialledNumber(invite('sip:127.0.0.1', '<sip:127.0.0.1>'))).toMatchObject({ ok: false, status: 404 });
  });
});

describe('CIDR lists', () => {
  it('parses v4 and v6 CIDRs and bare addresses, refusing the rest', () => {
    expect(parseCidr('203.0.113.0/24')).toEqual({ address: '203.0.113.0', prefix: 24, family: 'ipv4' });
    expect(parseCidr('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseCidr('127.0.0.1')?.prefix).toBe(32);
    for (const bad of ['203.0.113.0/33', '2001:db8::/129', 'example.com', '1.2.3.4/', '1.2.3.4/8/8', '']) {
      expect([bad, parseCidr(bad)]).toEqual([bad, undefined]);
    }
  });

  it('matches IPv4, IPv6 and v4-mapped v6 sources', () => {
    const l = new AddressList(['203.0.113.0/24', '2001:db8:1::/48', '127.0.0.1']);
    expect(l.has('203.0.113.77')).toBe(true);
    expect(l.has('::ffff:203.0.113.77')).toBe(true);
    expect(l.has('203.0.114.1')).toBe(false);
    expect(l.has('2001:db8:1:ffff::1')).toBe(true);
    expect(l.has('2001:db8:2::1')).toBe(false);
    expect(l.has('127.0.0.1')).toBe(true);
    expect(l.has('not an address')).toBe(false);
    expect(() => new AddressList(['nope'])).toThrow(RangeError);
  });
});

describe('admission', () => {
  const trunks = [
    { name: 'carrier', allow: ['203.0.113.0/24'] },
    { name: 'pbx', allow: ['203.0.113.5', '127.0.0.0/8'] },
    { name: 'v6', allow: ['2001:db8::/32'] },
  ];

  it('takes the first trunk in file order whose allow list holds the source', () => {
    const s = new TrunkSelector(trunks);
    expect(s.trunkFor('203.0.113.5')?.name).toBe('carrier'); // also in pbx: file order wins
    expect(s.trunkFor('127.0.0.2')?.name).toBe('pbx');
    expect(s.trunkFor('2001:db8::9')?.name).toBe('v6');
    expect(s.trunkFor('198.51.100.1')).toBeUndefined();
  });

  it('drops scanners and unknown sources silently, counted by reason', () => {
    const drops = new DropCounts();
    const s = new TrunkSelector(trunks, drops.sink);
    expect(s.admit(invite('sip:+15551234567@h', undefined, 'Friendly-Scanner 1.0'), '127.0.0.1')).toEqual({
      admitted: false,
      reason: 'scanner',
    });
    expect(s.admit(invite('sip:+15551234567@h', undefined, 'SIPVicious'), '127.0.0.1').admitted).toBe(false);
    expect(s.admit(invite('sip:+15551234567@h'), '198.51.100.1')).toEqual({ admitted: false, reason: 'no_trunk' });
    expect(s.admit(invite('sip:+15551234567@h', undefined, 'Asterisk PBX 20'), '127.0.0.1')).toMatchObject({
      admitted: true,
      trunk: { name: 'pbx' },
    });
    expect(drops.snapshot()).toEqual({ scanner: 2, no_trunk: 1 });
  });

  it('knows the scanner agents case-insensitively', () => {
    for (const ua of ['friendly-scanner', 'SIPVICIOUS/0.3', 'my sipcli 1.8', 'x-SipCli'])
      expect(isScanner(ua)).toBe(true);
    for (const ua of [undefined, '', 'baresip v3', 'sipp']) expect(isScanner(ua)).toBe(false);
  });
});
