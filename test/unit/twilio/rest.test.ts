import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/observability/logger.js';
import { createTwilioRest } from '../../../src/twilio/rest.js';

const AC = 'AC0123456789abcdef0123456789abcdef';
const CA = 'CAfedcba9876543210fedcba9876543210';
const TOKEN = 'rest-test-token-12345';

interface Seen {
  method: string;
  path: string;
  auth: string;
  form: URLSearchParams;
}
type Handler = (seen: Seen, res: http.ServerResponse) => void;

let server: http.Server | undefined;

async function fake(handler: Handler): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s = {
        method: req.method!,
        path: req.url!,
        auth: req.headers.authorization ?? '',
        form: new URLSearchParams(body),
      };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
};
const okCall = (res: http.ServerResponse) => json(res, 200, { sid: CA, status: 'in-progress' });

afterEach(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise((r) => server!.close(r));
    server = undefined;
  }
});

const rest = (base: string, timeoutMs?: number) =>
  createTwilioRest({
    accountSid: AC,
    authToken: TOKEN,
    apiBase: base,
    logger: silentLogger(),
    ...(timeoutMs ? { timeoutMs } : {}),
  });

describe('createTwilioRest', () => {
  it('updates TwiML at /2010-04-01/Accounts/AC…/Calls/CA….json with Basic auth', async () => {
    const { base, seen } = await fake((_s, res) => okCall(res));
    const res = await rest(base).updateCallTwiml(CA, '<Response><Hangup/></Response>');
    expect(res).toEqual({ ok: true });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.path).toBe(`/2010-04-01/Accounts/${AC}/Calls/${CA}.json`);
    expect(seen[0]!.auth).toBe(`Basic ${Buffer.from(`${AC}:${TOKEN}`).toString('base64')}`);
    expect(Object.fromEntries(seen[0]!.form)).toEqual({ Twiml: '<Response><Hangup/></Response>' });
  });

  it('updates the URL with a method', async () => {
    const { base, seen } = await fake((_s, res) => okCall(res));
    expect(await rest(base).updateCallUrl(CA, 'https://bridge.example.com/next', 'GET')).toEqual({ ok: true });
    expect(Object.fromEntries(seen[0]!.form)).toEqual({ Url: 'https://bridge.example.com/next', Method: 'GET' });
  });

  it('hangs up with Status=completed', async () => {
    const { base, seen } = await fake((_s, res) => okCall(res));
    expect(await rest(base).hangup(CA)).toEqual({ ok: true });
    expect(Object.fromEntries(seen[0]!.form)).toEqual({ Status: 'completed' });
  });

  it('treats 404 / 20404 on hang-up as already ended', async () => {
    const { base } = await fake((_s, res) =>
      json(res, 404, { code: 20404, message: 'The requested resource was not found', status: 404 }),
    );
    expect(await rest(base).hangup(CA)).toEqual({ ok: true, alreadyEnded: true });
  });

  it('retries a hang-up once after a 500', async () => {
    let n = 0;
    const { base, seen } = await fake((_s, res) =>
      n++ === 0 ? json(res, 500, { code: 20500, message: 'Internal', status: 500 }) : okCall(res),
    );
    expect(await rest(base).hangup(CA)).toEqual({ ok: true });
    expect(seen).toHaveLength(2);
  });

  it('retries a hang-up once after a timeout (network error)', async () => {
    let n = 0;
    const { base, seen } = await fake((_s, res) => {
      if (n++ > 0) okCall(res);
    });
    expect(await rest(base, 250).hangup(CA)).toEqual({ ok: true });
    expect(seen).toHaveLength(2);
  });

  it('gives up a hang-up after the second 500', async () => {
    const { base, seen } = await fake((_s, res) =>
      json(res, 503, { code: 20503, message: 'Unavailable', status: 503 }),
    );
    const res = await rest(base).hangup(CA);
    expect(res).toMatchObject({ ok: false, status: 503, code: 20503 });
    expect(seen).toHaveLength(2);
  });

  it('does not retry a TwiML update on a 500 and reports it', async () => {
    const { base, seen } = await fake((_s, res) =>
      json(res, 500, { code: 20500, message: 'Internal Server Error', status: 500 }),
    );
    const res = await rest(base).updateCallTwiml(CA, '<Response/>');
    expect(res).toEqual({ ok: false, status: 500, code: 20500, message: 'Internal Server Error' });
    expect(seen).toHaveLength(1);
  });

  it('reports a 404 on a TwiML update as a failure (the call is gone)', async () => {
    const { base } = await fake((_s, res) => json(res, 404, { code: 20404, message: 'not found', status: 404 }));
    expect(await rest(base).updateCallTwiml(CA, '<Response/>')).toMatchObject({ ok: false, status: 404, code: 20404 });
  });

  it('times out instead of hanging (no retry for updates)', async () => {
    const { base, seen } = await fake(() => {
      /* never answers */
    });
    const t0 = Date.now();
    const res = await rest(base, 300).updateCallTwiml(CA, '<Response/>');
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.message).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(seen).toHaveLength(1);
  });

  it('reports network errors without throwing and without secrets', async () => {
    const { base } = await fake((_s, res) => okCall(res));
    server!.closeAllConnections();
    await new Promise((r) => server!.close(r));
    server = undefined;
    const res = await rest(base).updateCallTwiml(CA, '<Response/>');
    expect(res).toMatchObject({ ok: false, message: 'ECONNREFUSED' });
    expect(JSON.stringify(res)).not.toContain(TOKEN);
  });

  it('refuses a malformed callSid without a request', async () => {
    const { base, seen } = await fake((_s, res) => okCall(res));
    expect(await rest(base).hangup('../../etc')).toEqual({ ok: false, message: 'invalid callSid' });
    expect(seen).toHaveLength(0);
  });

  it('creates a call with repeated StatusCallbackEvent fields and returns its sid', async () => {
    const { base, seen } = await fake((_s, res) => json(res, 201, { sid: 'CA99', status: 'queued' }));
    const res = await rest(base).createCall({
      to: '+15550001111',
      from: '+15557654321',
      url: 'https://bridge.example.com/twilio/voice',
      statusCallback: 'https://bridge.example.com/twilio/status',
      statusCallbackEvent: ['initiated', 'answered'],
      machineDetection: 'Enable',
    });
    expect(res).toEqual({ ok: true, callSid: 'CA99' });
    expect(seen[0]!.path).toBe(`/2010-04-01/Accounts/${AC}/Calls.json`);
    expect(seen[0]!.form.getAll('StatusCallbackEvent')).toEqual(['initiated', 'answered']);
    expect(seen[0]!.form.get('To')).toBe('+15550001111');
    expect(seen[0]!.form.get('MachineDetection')).toBe('Enable');
  });

  it('does not retry a failed create', async () => {
    const { base, seen } = await fake((_s, res) => json(res, 500, { code: 20500, message: 'x', status: 500 }));
    expect((await rest(base).createCall({ to: '+1', from: '+2', twiml: '<Response/>' })).ok).toBe(false);
    expect(seen).toHaveLength(1);
  });
});
