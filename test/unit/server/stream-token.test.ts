import { describe, expect, it } from 'vitest';
import {
  MAX_TOKEN_CHARS,
  StreamTokens,
  mintStreamToken,
  readStreamToken,
  streamTokenSecret,
  verifyStreamToken,
} from '../../../src/server/stream-token.js';

const SECRET = streamTokenSecret(undefined, 'auth-token-of-the-account')!;
const CALL = 'CA' + '0123456789abcdef'.repeat(2);
const OTHER = 'CA' + 'fedcba9876543210'.repeat(2);

describe('stream token', () => {
  it('verifies for the CallSid it was minted for and carries agent, From and To', () => {
    const t = mintStreamToken(SECRET, CALL, { agent: 'support', from: '+15557654321', to: '+15550001111' }, 60_000);
    const r = verifyStreamToken(SECRET, CALL, t);
    expect(r).toMatchObject({
      ok: true,
      claims: { purpose: 'call', agent: 'support', from: '+15557654321', to: '+15550001111' },
    });
  });

  it('does not verify for another CallSid, with another secret, or once a byte is changed', () => {
    const t = mintStreamToken(SECRET, CALL, { agent: 'support' }, 60_000);
    expect(verifyStreamToken(SECRET, OTHER, t)).toEqual({ ok: false, reason: 'token_bad_mac' });
    expect(verifyStreamToken(streamTokenSecret(undefined, 'another-auth-token')!, CALL, t)).toEqual({
      ok: false,
      reason: 'token_bad_mac',
    });
    // the agent renamed inside the token: same length, so only the MAC can tell
    const raw = Buffer.from(t, 'base64url');
    const at = raw.indexOf('support');
    raw.write('salesXX', at);
    expect(verifyStreamToken(SECRET, CALL, raw.toString('base64url'))).toEqual({ ok: false, reason: 'token_bad_mac' });
  });

  it('refuses an expired token, a missing one and garbage', () => {
    expect(verifyStreamToken(SECRET, CALL, mintStreamToken(SECRET, CALL, { agent: 'a' }, -2000))).toEqual({
      ok: false,
      reason: 'token_expired',
    });
    expect(verifyStreamToken(SECRET, CALL, undefined)).toEqual({ ok: false, reason: 'token_missing' });
    expect(verifyStreamToken(SECRET, CALL, '')).toEqual({ ok: false, reason: 'token_missing' });
    expect(verifyStreamToken(SECRET, CALL, 'not a token!')).toEqual({ ok: false, reason: 'token_malformed' });
    expect(verifyStreamToken(SECRET, CALL, 'A'.repeat(40))).toEqual({ ok: false, reason: 'token_malformed' });
    expect(verifyStreamToken(SECRET, CALL, 'A'.repeat(5000))).toEqual({ ok: false, reason: 'token_malformed' });
  });

  it("stays under Twilio's 500-character <Parameter> limit with the longest fields, leaving out a From/To that would not fit", () => {
    const long = mintStreamToken(
      SECRET,
      CALL,
      { agent: 'a'.repeat(64), from: 'sip:' + 'x'.repeat(124), to: 'sip:' + 'y'.repeat(124) },
      60_000,
    );
    expect(long.length).toBeLessThanOrEqual(MAX_TOKEN_CHARS);
    expect(long.length).toBeLessThan(500);
    const tooLong = mintStreamToken(SECRET, CALL, { agent: 'a', from: 'sip:' + 'x'.repeat(300) }, 60_000);
    const claims = readStreamToken(tooLong)!;
    expect(claims.from).toBeUndefined();
    expect(verifyStreamToken(SECRET, CALL, tooLong).ok).toBe(true);
  });

  it('derives the secret from the auth token under a label (not the token itself), and prefers STREAM_TOKEN_SECRET', () => {
    expect(streamTokenSecret(undefined, 'tok')!.equals(Buffer.from('tok'))).toBe(false);
    expect(streamTokenSecret(undefined, 'tok')!.equals(streamTokenSecret(undefined, 'tok')!)).toBe(true);
    expect(streamTokenSecret('explicit', 'tok')!.toString()).toBe('explicit');
    expect(streamTokenSecret(undefined, undefined)).toBeUndefined();
  });

  it('consumes each token once, and forgets ids beyond its bound oldest first', () => {
    const tokens = new StreamTokens(SECRET, 60_000, 10);
    const claims = (
      verifyStreamToken(SECRET, CALL, tokens.mint(CALL, { agent: 'a', purpose: 'restart' })) as {
        claims: import('../../../src/server/stream-token.js').StreamClaims;
      }
    ).claims;
    expect(claims.purpose).toBe('restart');
    expect(tokens.consume(claims)).toBe(true);
    expect(tokens.consume(claims)).toBe(false);
    for (let i = 0; i < 50; i++) tokens.consume({ ...claims, id: `id${i}` });
    expect((tokens as unknown as { consumed: Map<string, number> }).consumed.size).toBeLessThanOrEqual(10);
  });
});
