import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  signTwilioRequest,
  verifyMediaUpgrade,
  verifyWebhook,
  verifyWebhookBody,
} from '../../../src/twilio/signature.js';

const TOKEN = 'test-auth-token-0123456789';
const PUBLIC = 'https://bridge.example.com';
const PARAMS = { CallSid: 'CA123', From: '+15551234567', To: '+15557654321', CallStatus: 'ringing' };

describe('verifyWebhook', () => {
  const sig = signTwilioRequest(TOKEN, `${PUBLIC}/twilio/voice`, PARAMS);

  it('accepts a correctly signed form POST, rebuilt from the public URL', () => {
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', PARAMS, sig)).toBe(true);
    expect(verifyWebhook(TOKEN, `${PUBLIC}/`, '/twilio/voice', PARAMS, sig)).toBe(true);
  });

  it('rejects a tampered parameter', () => {
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', { ...PARAMS, To: '+19999999999' }, sig)).toBe(false);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', { ...PARAMS, Extra: 'x' }, sig)).toBe(false);
  });

  it('rejects the wrong auth token, a missing or empty signature', () => {
    expect(verifyWebhook('another-token-000000', PUBLIC, '/twilio/voice', PARAMS, sig)).toBe(false);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', PARAMS, undefined)).toBe(false);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', PARAMS, '')).toBe(false);
    expect(verifyWebhook('', PUBLIC, '/twilio/voice', PARAMS, sig)).toBe(false);
  });

  it('signs the query string too', () => {
    const s = signTwilioRequest(TOKEN, `${PUBLIC}/twilio/dial-action?agent=support`, { DialCallStatus: 'busy' });
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/dial-action?agent=support', { DialCallStatus: 'busy' }, s)).toBe(true);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/dial-action?agent=sales', { DialCallStatus: 'busy' }, s)).toBe(false);
  });

  it('behind a TLS proxy: valid for the public https URL, not for what the server saw', () => {
    // The server sees http://10.0.0.5:8080/twilio/voice; Twilio signed the public https URL.
    const seen = signTwilioRequest(TOKEN, 'http://10.0.0.5:8080/twilio/voice', PARAMS);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', PARAMS, sig)).toBe(true);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/voice', PARAMS, seen)).toBe(false);
  });

  it('handles repeated form keys (arrays)', () => {
    const p = { StatusCallbackEvent: ['ringing', 'answered'], CallSid: 'CA1' };
    const s = signTwilioRequest(TOKEN, `${PUBLIC}/twilio/status`, p);
    expect(verifyWebhook(TOKEN, PUBLIC, '/twilio/status', p, s)).toBe(true);
  });

  it('returns false (never throws) for an unusable public URL', () => {
    expect(verifyWebhook(TOKEN, 'not a url', '/twilio/voice', PARAMS, sig)).toBe(false);
  });
});

describe('verifyWebhookBody', () => {
  it('checks the bodySHA256 of a JSON body', () => {
    const body = '{"hello":"world"}';
    const hash = createHash('sha256').update(body).digest('hex');
    const path = `/twilio/events?bodySHA256=${hash}`;
    const s = signTwilioRequest(TOKEN, `${PUBLIC}${path}`, {});
    expect(verifyWebhookBody(TOKEN, PUBLIC, path, body, s)).toBe(true);
    expect(verifyWebhookBody(TOKEN, PUBLIC, path, '{"hello":"there"}', s)).toBe(false);
  });
});

describe('verifyMediaUpgrade', () => {
  it('accepts the wss URL with no params', () => {
    const s = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', s)).toBe(true);
  });

  it('accepts a signature made over the URL with a trailing slash, and the reverse', () => {
    const withSlash = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media/', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', withSlash)).toBe(true);
    const without = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media/', without)).toBe(true);
  });

  it('accepts the https form of the stream URL', () => {
    const s = signTwilioRequest(TOKEN, 'https://bridge.example.com/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', s)).toBe(true);
  });

  it('ignores a query string the server may see', () => {
    const s = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media?x=1', s)).toBe(true);
  });

  it('accepts wss even when PUBLIC_URL is plain http (local setups)', () => {
    const s = signTwilioRequest(TOKEN, 'wss://127.0.0.1:8080/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, 'http://127.0.0.1:8080', '/twilio/media', s)).toBe(true);
  });

  it('rejects other hosts, paths, tokens and missing signatures', () => {
    const other = signTwilioRequest(TOKEN, 'wss://evil.example.com/twilio/media', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', other)).toBe(false);
    const path = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/other', {});
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', path)).toBe(false);
    const good = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media', {});
    expect(verifyMediaUpgrade('wrong-token-00000000', PUBLIC, '/twilio/media', good)).toBe(false);
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', undefined)).toBe(false);
    expect(verifyMediaUpgrade(TOKEN, 'nope', '/twilio/media', good)).toBe(false);
  });

  it('a signature over the URL with params does not validate the bare URL', () => {
    const s = signTwilioRequest(TOKEN, 'wss://bridge.example.com/twilio/media', { a: 'b' });
    expect(verifyMediaUpgrade(TOKEN, PUBLIC, '/twilio/media', s)).toBe(false);
  });
});
