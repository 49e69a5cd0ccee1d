/**
 * `/twilio/*` takes form-encoded bodies only: Twilio never posts anything else,
 * so a JSON, text or multipart body is refused with 415 and counted before any parser reads it,
 * while Twilio's own form posts are answered as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { janitor, startBridgeStack } from '../helpers/bridge-stack.js';
import { metricValue } from '../helpers/metrics.js';
import { callParams, postSigned, sid } from '../helpers/raw-twilio.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';

const j = janitor();
afterEach(() => j.closeAll());

async function post(url: string, contentType: string | undefined, body: string, signature?: string) {
  const headers: Record<string, string> = {};
  if (contentType) headers['content-type'] = contentType;
  if (signature) headers['x-twilio-signature'] = signature;
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('/twilio/* accepts form-encoded bodies only', () => {
  it('a JSON body to /twilio/voice gets 415, counted, and opens no engine session', async () => {
    const h = j.track(await startBridgeStack());
    const params = callParams(h.target, sid('CA'), { CallStatus: 'ringing' });
    const url = `${h.bridgeUrl}/twilio/voice`;
    // The attacker's move: Twilio's parameters as JSON, signed as a form would be.
    const r = await post(
      url,
      'application/json',
      JSON.stringify(params),
      signTwilioRequest(h.target.authToken, url, params),
    );
    expect(r.status).toBe(415);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', {
        route: '/twilio/voice',
        reason: 'unsupported_media_type',
      }),
    ).toBe(1);
    expect(h.engine.sessions).toHaveLength(0);
  });

  it('text, multipart and a missing content type are refused alike on every /twilio/* POST route', async () => {
    const h = j.track(await startBridgeStack());
    const cases: [string, string | undefined, string][] = [
      ['/twilio/status', 'text/plain', 'CallSid=CA1'],
      ['/twilio/ivr', 'multipart/form-data; boundary=x', '--x\r\n\r\n--x--'],
      ['/twilio/dial-action', 'application/json; charset=utf-8', '{}'],
      ['/twilio/outbound', undefined, 'CallSid=CA1'],
    ];
    for (const [path, type, body] of cases) {
      expect((await post(`${h.bridgeUrl}${path}`, type, body)).status, `${path} ${type}`).toBe(415);
    }
    expect(await metricValue(h.bridge, 'bridge_webhook_rejected_total', { reason: 'unsupported_media_type' })).toBe(
      cases.length,
    );
  });

  it('a signed form post (with a charset) is still answered', async () => {
    const h = j.track(await startBridgeStack());
    const r = await postSigned(h.target, '/twilio/voice', callParams(h.target, sid('CA'), { CallStatus: 'ringing' }), {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('<Stream');
  });
});
