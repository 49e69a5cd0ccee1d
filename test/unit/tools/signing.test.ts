import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idempotencyKey, signBridgePayload, verifyBridgeSignature } from '../../../src/tools/signing.js';

const secret = 'whsec_test_0123456789';
const body = '{"call_id":"c1","name":"get_order_status","arguments":{"order_id":"4417"}}';

describe('webhook signatures', () => {
  it('signs t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    const header = signBridgePayload(secret, body, 1_700_000_000);
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(header).toBe(`t=1700000000,v1=${expected}`);
  });

  it('verifies a fresh signature over the raw body (string or bytes)', () => {
    const now = 1_700_000_000;
    const header = signBridgePayload(secret, body, now);
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: now + 10 })).toEqual({ ok: true });
    expect(verifyBridgeSignature({ header: [header], rawBody: Buffer.from(body), secret, nowSec: now })).toEqual({
      ok: true,
    });
  });

  it('rejects replays older than the tolerance, and timestamps too far in the future', () => {
    const header = signBridgePayload(secret, body, 1_700_000_000);
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: 1_700_000_301 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: 1_700_000_300 })).toEqual({ ok: true });
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: 1_699_999_000 })).toEqual({
      ok: false,
      reason: 'stale',
    });
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: 1_700_000_061, toleranceSec: 60 })).toEqual({
      ok: false,
      reason: 'stale',
    });
  });

  it('rejects a changed body, a wrong secret and a re-stamped timestamp', () => {
    const now = 1_700_000_000;
    const header = signBridgePayload(secret, body, now);
    expect(verifyBridgeSignature({ header, rawBody: body.replace('4417', '4418'), secret, nowSec: now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(verifyBridgeSignature({ header, rawBody: body, secret: 'other-secret', nowSec: now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    const restamped = header.replace(`t=${now}`, `t=${now + 100}`);
    expect(verifyBridgeSignature({ header: restamped, rawBody: body, secret, nowSec: now + 100 })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('accepts any of several v1 entries', () => {
    const now = 1_700_000_000;
    const good = signBridgePayload(secret, body, now).split(',')[1];
    const header = `t=${now},v1=${'0'.repeat(64)},${good}`;
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: now })).toEqual({ ok: true });
  });

  it('during a rotation signs with the new and the replaced secret in one header: a receiver on either verifies', () => {
    const now = 1_700_000_000;
    const old = 'whsec_replaced_9876543210';
    const header = signBridgePayload(secret, body, now, [old]);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(header.startsWith(signBridgePayload(secret, body, now))).toBe(true);
    for (const s of [secret, old])
      expect(verifyBridgeSignature({ header, rawBody: body, secret: s, nowSec: now })).toEqual({ ok: true });
    expect(verifyBridgeSignature({ header, rawBody: body, secret: 'whsec_other', nowSec: now })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it.each([
    [undefined, 'missing'],
    ['', 'missing'],
    [null, 'missing'],
    ['garbage', 'malformed'],
    ['t=abc,v1=00', 'malformed'],
    [`v1=${'a'.repeat(64)}`, 'malformed'],
    ['t=1700000000', 'malformed'],
    ['t=1700000000,v1=xyz', 'malformed'],
    [`t=1700000000,v1=${'a'.repeat(5000)}`, 'malformed'],
  ])('refuses header %j as %s', (header, reason) => {
    expect(verifyBridgeSignature({ header, rawBody: body, secret, nowSec: 1_700_000_000 })).toEqual({
      ok: false,
      reason,
    });
  });

  it('derives a stable, fixed-size idempotency key from CallSid and tool call id', () => {
    const a = idempotencyKey('CA1', 'call_1');
    expect(a).toMatch(/^[0-9a-f]{40}$/);
    expect(idempotencyKey('CA1', 'call_1')).toBe(a);
    expect(idempotencyKey('CA1', 'call_2')).not.toBe(a);
    expect(idempotencyKey('CA2', 'call_1')).not.toBe(a);
    expect(idempotencyKey('CA1', 'x\r\nInjected: yes')).toMatch(/^[0-9a-f]{40}$/);
  });
});
