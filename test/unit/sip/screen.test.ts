import { describe, expect, it } from 'vitest';
import { TrunkSelector } from '../../../src/sip/admission.js';
import { parseDigestParams } from '../../../src/sip/auth-params.js';
import { digestResponse, type DigestPolicy } from '../../../src/sip/digest.js';
import { DropCounts } from '../../../src/sip/drops.js';
import type { SipHeader } from '../../../src/sip/headers.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { screenInvite } from '../../../src/sip/screen.js';

const policy: DigestPolicy = { realm: 'bridge', secret: Buffer.alloc(32, 7) };
const trunks = [
  { name: 'open', allow: ['127.0.0.2'] },
  { name: 'secure', allow: ['127.0.0.3'] },
];

function invite(user: string, extra: SipHeader[] = []): SipRequest {
  return {
    kind: 'request',
    method: 'INVITE',
    uri: `sip:${user}@127.0.0.1`,
    headers: [{ name: 'To', value: `<sip:${user}@127.0.0.1>` }, { name: 'Call-ID', value: 'c-1' }, ...extra],
    body: Buffer.alloc(0),
  };
}

function setup() {
  const drops = new DropCounts();
  const deps = {
    selector: new TrunkSelector(trunks, drops.sink),
    digestFor: (t: (typeof trunks)[number]) =>
      t.name === 'secure' ? { policy, credentials: { username: 'u', password: 'p' } } : undefined,
  };
  return { drops, deps };
}

function authorization(challenge: string, password: string, uri = 'sip:+15551234567@127.0.0.1'): SipHeader {
  const c = parseDigestParams(challenge)!;
  const response = digestResponse({
    algorithm: c.algorithm as 'MD5' | 'SHA-256',
    username: 'u',
    realm: c.realm!,
    password,
    method: 'INVITE',
    uri,
    nonce: c.nonce!,
  });
  return {
    name: 'Proxy-Authorization',
    value: `Digest username="u", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", response="${response}", algorithm=${c.algorithm}`,
  };
}

describe('INVITE screening', () => {
  it('drops strangers and scanners without an answer', () => {
    const { drops, deps } = setup();
    expect(screenInvite(invite('+15551234567'), '127.0.0.9', deps)).toEqual({ drop: true });
    const scanner = invite('+15551234567', [{ name: 'User-Agent', value: 'friendly-scanner' }]);
    expect(screenInvite(scanner, '127.0.0.2', deps)).toEqual({ drop: true });
    expect(drops.snapshot()).toEqual({ no_trunk: 1, scanner: 1 });
  });

  it('accepts a trunk without digest with its dialled number, or 404 when it is none', () => {
    const { deps } = setup();
    expect(screenInvite(invite('1-555-123-4567'), '127.0.0.2', deps)).toEqual({
      accept: true,
      context: { trunk: trunks[0], number: '+15551234567' },
    });
    expect(screenInvite(invite('alice'), '127.0.0.2', deps)).toEqual({ reject: 404 });
  });

  it('challenges with 407 (MD5 then SHA-256), accepts either answer, forbids a wrong one', () => {
    const { deps } = setup();
    const first = screenInvite(invite('+15551234567'), '127.0.0.3', deps);
    expect('reject' in first && first.reject).toBe(407);
    const headers = 'reject' in first ? (first.headers ?? []) : [];
    expect(headers.map((h) => [h.name, parseDigestParams(h.value)!.algorithm])).toEqual([
      ['Proxy-Authenticate', 'MD5'],
      ['Proxy-Authenticate', 'SHA-256'],
    ]);
    for (const h of headers) {
      const ok = screenInvite(invite('+15551234567', [authorization(h.value, 'p')]), '127.0.0.3', deps);
      expect(ok).toMatchObject({ accept: true, context: { trunk: { name: 'secure' } } });
    }
    const wrong = screenInvite(invite('+15551234567', [authorization(headers[0]!.value, 'x')]), '127.0.0.3', deps);
    expect(wrong).toEqual({ reject: 403 });
  });

  it('does not tell an unauthenticated caller whether a number exists', () => {
    const { deps } = setup();
    expect(screenInvite(invite('alice'), '127.0.0.3', deps)).toMatchObject({ reject: 407 });
  });
});
