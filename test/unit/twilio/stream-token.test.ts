import { describe, expect, it } from 'vitest';
import {
  MAX_TOKEN_CHARS,
  StreamTokens,
  mintStreamToken,
  readStreamToken,
  streamTokenSecret,
  verifyStreamToken,
} from '../../../src/twilio/stream-token.js';

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
    // any byte changed: one of the sealed claims, or the clear purpose (call → restart)
    for (const at of [20, 1]) {
      const raw = Buffer.from(t, 'base64url');
      raw[at] = raw[at]! ^ 1;
      expect(verifyStreamToken(SECRET, CALL, raw.toString('base64url'))).toEqual({
        ok: false,
        reason: 'token_bad_mac',
      });
    }
  });

  it("keeps agent, From and To unreadable to whoever sees the TwiML (Twilio's request logs)", () => {
    const claims = { agent: 'support', from: '+15557654321', to: '+15550001111' };
    const t = mintStreamToken(SECRET, CALL, claims, 60_000);
    const raw = Buffer.from(t, 'base64url');
    for (const clear of ['support', '5557654321', '5550001111', '765', '000111'])
      expect(raw.includes(Buffer.from(clear)), clear).toBe(false);
    // the same claims twice: different tokens (a random IV), so equal calls cannot be matched up either
    expect(mintStreamToken(SECRET, CALL, claims, 60_000)).not.toBe(t);
    expect(readStreamToken(t)).toEqual({ purpose: 'call', expiresAt: expect.any(Number), id: expect.any(String) });
    expect(readStreamToken(t, { secret: SECRET, callSid: CALL })).toMatchObject(claims);
    expect(readStreamToken(t, { secret: SECRET, callSid: OTHER })).toBeUndefined();
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
    const claims = readStreamToken(tooLong, { secret: SECRET, callSid: CALL })!;
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
        claims: import('../../../src/twilio/stream-token.js').StreamClaims;
      }
    ).claims;
    expect(claims.purpose).toBe('restart');
    expect(tokens.consume(claims)).toBe(true);
    expect(tokens.consume(claims)).toBe(false);
    for (let i = 0; i < 50; i++) tokens.consume({ ...claims, id: `id${i}` });
    expect((tokens as unknown as { consumed: Map<string, number> }).consumed.size).toBeLessThanOrEqual(10);
  });
});
