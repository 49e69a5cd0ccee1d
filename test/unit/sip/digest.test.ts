import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDigestParams } from '../../../src/sip/auth-params.js';
import {
  challenges,
  checkNonce,
  digestResponse,
  verify,
  type DigestAlgorithm,
  type DigestPolicy,
} from '../../../src/sip/digest.js';

// Expected values: the RFCs' published examples, checked with `openssl dgst -md5/-sha256` on the
// HA1/HA2/response strings by hand (not with this code).
describe('digest response', () => {
  it('matches RFC 2617 §3.5 (MD5, qop=auth)', () => {
    expect(
      digestResponse({
        algorithm: 'MD5',
        username: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        qop: 'auth',
        nc: '00000001',
        cnonce: '0a4f113b',
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });

  it('matches RFC 7616 §3.9.1 for both MD5 and SHA-256', () => {
    const base = {
      username: 'Mufasa',
      realm: 'http-auth@example.org',
      password: 'Circle of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
      qop: 'auth' as const,
      nc: '00000001',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    };
    expect(digestResponse({ ...base, algorithm: 'MD5' })).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(digestResponse({ ...base, algorithm: 'SHA-256' })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });

  it('matches an openssl-computed SIP INVITE without qop (RFC 2069 form)', () => {
    const d = {
      username: 'trunk1',
      realm: 'bridge',
      password: 's3cret',
      method: 'INVITE',
      uri: 'sip:+15551234567@127.0.0.1:5060',
      nonce: 'abc123',
    };
    expect(digestResponse({ ...d, algorithm: 'MD5' })).toBe('08fc3f9eeadda31783a294df67eed223');
    expect(digestResponse({ ...d, algorithm: 'SHA-256' })).toBe(
      '4796f70312852aa732250d59f396c1e96008a56c5135c26d90adb2c329105cfd',
    );
    expect(digestResponse({ ...d, algorithm: 'SHA-256', qop: 'auth', nc: '0000000a', cnonce: 'xyz' })).toBe(
      'e033c9b115475d6d793c2866b4e86cd9e0bc3a87107de9611e311d724300c022',
    );
  });
});

describe('digest challenge and verification', () => {
  let t = 1_000_000;
  const policy: DigestPolicy = { realm: 'bridge', secret: Buffer.from('k'.repeat(32)), ttlMs: 30_000, now: () => t };
  const creds = { username: 'trunk1', password: 's3cret' };
  const uri = 'sip:+15551234567@127.0.0.1';

  function answer(challenge: string, password: string, opts: { qop?: boolean; callId?: string } = {}): string {
    const p = parseDigestParams(challenge)!;
    const algorithm = p.algorithm as DigestAlgorithm;
    const qop = opts.qop ?? true;
    const response = digestResponse({
      algorithm,
      username: 'trunk1',
      realm: p.realm!,
      password,
      method: 'INVITE',
      uri,
      nonce: p.nonce!,
      ...(qop ? { qop: 'auth' as const, nc: '00000001', cnonce: 'c0ffee' } : {}),
    });
    return (
      `Digest username="trunk1", realm="${p.realm}", nonce="${p.nonce}", uri="${uri}", response="${response}", ` +
      `algorithm=${algorithm}${qop ? ', qop=auth, nc=00000001, cnonce="c0ffee"' : ''}`
    );
  }

  it('offers MD5 first, then SHA-256, with qop=auth and one nonce', () => {
    const c = challenges(policy, 'call-1');
    expect(c.map((x) => parseDigestParams(x)!.algorithm)).toEqual(['MD5', 'SHA-256']);
    expect(new Set(c.map((x) => parseDigestParams(x)!.nonce)).size).toBe(1);
    expect(parseDigestParams(c[0]!)!.qop).toBe('auth');
  });

  it('accepts an answer to either algorithm, with or without qop', () => {
    for (const c of challenges(policy, 'call-1')) {
      for (const qop of [true, false]) {
        const v = verify(
          policy,
          { method: 'INVITE', callId: 'call-1', authorizations: [answer(c, 's3cret', { qop })] },
          creds,
        );
        expect(v).toEqual({ ok: true, algorithm: parseDigestParams(c)!.algorithm, username: 'trunk1' });
      }
    }
  });

  it('forbids a wrong password (403), challenges when nothing is offered (407)', () => {
    const [md5] = challenges(policy, 'call-1');
    const req = (a: string[]) => ({ method: 'INVITE', callId: 'call-1', authorizations: a });
    expect(verify(policy, req([answer(md5!, 'wrong')]), creds)).toMatchObject({ ok: false, outcome: 'forbidden' });
    expect(verify(policy, req([]), creds)).toMatchObject({ ok: false, outcome: 'challenge', reason: 'missing' });
    // an answer for another realm is as good as none
    const other = answer(md5!, 's3cret').replace('realm="bridge"', 'realm="elsewhere"');
    expect(verify(policy, req([other]), creds)).toMatchObject({ outcome: 'challenge', reason: 'missing' });
  });

  it('does not let a nonce open another call, nor be used after its expiry', () => {
    const [md5] = challenges(policy, 'call-1');
    const good = answer(md5!, 's3cret');
    expect(verify(policy, { method: 'INVITE', callId: 'call-2', authorizations: [good] }, creds)).toMatchObject({
      outcome: 'challenge',
      reason: 'bad_nonce',
    });
    t += 30_001;
    expect(verify(policy, { method: 'INVITE', callId: 'call-1', authorizations: [good] }, creds)).toEqual({
      ok: false,
      outcome: 'challenge',
      stale: true,
      reason: 'stale',
    });
  });

  it('refuses a nonce from another secret or tampered in any character', () => {
    const nonce = parseDigestParams(challenges(policy, 'c')[0]!)!.nonce!;
    expect(checkNonce(policy, nonce, 'c')).toBe('ok');
    expect(checkNonce({ ...policy, secret: Buffer.from('other') }, nonce, 'c')).toBe('bad');
    fc.assert(
      fc.property(fc.nat(nonce.length - 1), fc.constantFrom(...'0123456789abcxyz.-_'), (i, ch) => {
        fc.pre(nonce[i] !== ch);
        const bad = nonce.slice(0, i) + ch + nonce.slice(i + 1);
        // extending the expiry (first part) must break the MAC too
        expect(checkNonce(policy, bad, 'c')).toBe('bad');
      }),
    );
  });

  it('reads quoted values with commas and escapes, and refuses what is not Digest', () => {
    expect(parseDigestParams('Digest realm="a, \\"b\\"", nc=00000001 ,qop=auth')).toEqual({
      realm: 'a, "b"',
      nc: '00000001',
      qop: 'auth',
    });
    expect(parseDigestParams('Basic abc')).toBeUndefined();
    expect(parseDigestParams('Digest realm="open')).toBeUndefined();
    fc.assert(fc.property(fc.string(), (s) => void parseDigestParams(`Digest ${s}`)));
  });
});
