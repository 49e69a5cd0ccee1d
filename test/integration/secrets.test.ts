import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/sim/engine/index.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { verifyBridgeSignature } from '../../src/tools/signing.js';
import type { CallResult } from '../../src/sim/twilio/types.js';
import { ACCOUNT_SID, AUTH_TOKEN, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';
import { scrapeMetrics } from '../helpers/metrics.js';

/**
 * Full calls (tools local and webhook, a transfer, hang-ups by the human and by the admin API)
 * run with distinctive fake secrets; then every place the bridge writes to is searched for them:
 * logs at every level (unscrubbed: the test wants leaks fixed at their source, not masked by the
 * logger's safety net), call records, /metrics, the body and headers of every route's error
 * answers, what the engine received (tool results, configure), and what went to Twilio.
 */

const PYAI_API_KEY = 'pyai-sk-live-7Hq2Zt9WmXv4';
const ADMIN_TOKEN = testToken('secrets admin');
const HOOK_TOKEN = 'hook-auth-Q8r4Lm2Nx6';
const HOOK_AUTH = `Bearer ${HOOK_TOKEN}`;
const HOOK_SIGNING = 'hook-sign-Vb5Kc1Jp7Ty3';

/** Each secret, its distinctive tail (catches truncated copies), and the Basic auth form of Twilio's. */
const NEEDLES: Record<string, string> = {
  PYAI_API_KEY,
  'PYAI_API_KEY tail': PYAI_API_KEY.slice(-10),
  TWILIO_AUTH_TOKEN: AUTH_TOKEN,
  'TWILIO_AUTH_TOKEN tail': AUTH_TOKEN.slice(-10),
  'Twilio basic auth': Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'),
  ADMIN_TOKEN,
  'ADMIN_TOKEN tail': ADMIN_TOKEN.slice(-10),
  HOOK_TOKEN,
  'HOOK_TOKEN tail': HOOK_TOKEN.slice(-10),
  HOOK_SIGNING,
  'HOOK_SIGNING tail': HOOK_SIGNING.slice(-10),
};

function leaks(where: string, text: string): string[] {
  return Object.entries(NEEDLES)
    .filter(([, v]) => text.includes(v))
    .map(([k]) => `${k} in ${where}`);
}

// ---------------------------------------------------------------------------------------------
// a webhook receiver: a real tool, an endpoint that echoes what it got (as debugging endpoints
// do), and one that refuses with the credentials quoted back

interface Hook {
  url: string;
  verified: number;
  server: http.Server;
}

async function startHook(): Promise<Hook> {
  const hook = { url: '', verified: 0, server: http.createServer() };
  hook.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const json = (status: number, v: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      if (req.url === '/loyalty') {
        const ok =
          req.headers.authorization === HOOK_AUTH &&
          verifyBridgeSignature({ header: req.headers['x-bridge-signature'], rawBody: body, secret: HOOK_SIGNING }).ok;
        if (ok) hook.verified++;
        return json(ok ? 200 : 403, ok ? { tier: 'gold', points: 1200 } : { error: 'bad credentials' });
      }
      if (req.url === '/echo') return json(200, { headers: req.headers, body: JSON.parse(body) as unknown });
      res
        .writeHead(401, { 'content-type': 'text/plain' })
        .end(`denied for ${String(req.headers.authorization)} (signed ${String(req.headers['x-bridge-signature'])})`);
    });
  });
  await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', r));
  hook.url = `http://127.0.0.1:${(hook.server.address() as AddressInfo).port}`;
  return hook;
}

function configText(hookUrl: string): string {
  const webhook = (name: string, path: string) => `
      - name: ${name}
        description: webhook ${name}
        side_effect: read
        timeout_ms: 2000
        parameters: { type: object, properties: { customer: { type: string } } }
        executor: { kind: http, url: "${hookUrl}${path}", method: POST, auth_header: Authorization, auth_secret_env: TOOL_SECRET_HOOK_AUTH, signing_secret_env: TOOL_SECRET_HOOK_SIGNING }`;
  return `
default_agent: support
agents:
  - id: support
    persona: You are a test agent.
    greeting: Hi.
    tools:
      - name: get_order_status
        description: Look up an order.
        side_effect: read
        parameters: { type: object, properties: { order_id: { type: string } }, required: [order_id] }
        executor: { kind: module, module: ./tools/get_order_status.js }${webhook('check_loyalty', '/loyalty')}${webhook('debug_echo', '/echo')}${webhook('strict_hook', '/deny')}
    transfer:
      targets: [{ name: front_desk, kind: number, value: "+15550100200" }]
      default: front_desk
      on_no_answer: hangup
numbers:
  "+15550001111": { agent: support }
bridge:
  tool_allow_hosts: ["127.0.0.1"]
`;
}

const scenario = parseScenario({
  steps: [
    { wait_for_caller: true, expect: 'Hi, where is my order?' },
    { tool_call: { name: 'get_order_status', arguments: { order_id: '4417' } } },
    { tool_call: { name: 'check_loyalty', arguments: { customer: '+15557654321' } } },
    { tool_call: { name: 'debug_echo', arguments: { customer: '+15557654321' } } },
    { tool_call: { name: 'strict_hook', arguments: {} } },
    { say: 'Transferring you now.' },
    { verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'xfer-1', await_result: true },
  ],
});

// ---------------------------------------------------------------------------------------------
// bad requests at every route, answers kept whole (status line, headers, body)

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      resolve(out);
    };
    const t = setTimeout(done, 1000);
    sock.on('data', (d) => {
      out += d.toString('utf8');
      if (/\r\n\r\n/.test(out) && /content-length: 0\r\n|\r\n\r\n.+/is.test(out)) setTimeout(done, 50);
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(request));
  });
}

async function errorAnswers(h: Harness): Promise<string[]> {
  const port = Number(new URL(h.bridgeUrl).port);
  const form = 'application/x-www-form-urlencoded';
  const sign = (path: string, params: Record<string, string> = {}) =>
    signTwilioRequest(AUTH_TOKEN, h.bridgeUrl + path, params);
  const goodParams = { CallSid: `CA${'d'.repeat(32)}`, AccountSid: ACCOUNT_SID };
  const wrongAccount = { CallSid: `CA${'d'.repeat(32)}`, AccountSid: `AC${'0'.repeat(32)}` };
  const encode = (p: Record<string, string>) => new URLSearchParams(p).toString();
  const requests: { method: string; path: string; headers?: Record<string, string>; body?: string }[] = [];
  for (const path of [
    '/twilio/voice',
    '/twilio/status',
    '/twilio/dial-action?agent=support&target=front_desk',
    '/twilio/ivr?to=%2B15550001111&attempt=1',
  ]) {
    requests.push(
      { method: 'POST', path, headers: { 'content-type': form }, body: encode(goodParams) },
      {
        method: 'POST',
        path,
        headers: { 'content-type': form, 'x-twilio-signature': 'bm9wZQ==' },
        body: encode(goodParams),
      },
      {
        method: 'POST',
        path,
        headers: { 'content-type': form, 'x-twilio-signature': sign(path, { CallSid: 'x' }) },
        body: encode({ CallSid: 'x' }),
      },
      {
        method: 'POST',
        path,
        headers: { 'content-type': form, 'x-twilio-signature': sign(path, wrongAccount) },
        body: encode(wrongAccount),
      },
      {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'x-twilio-signature': sign(path) },
        body: '{"CallSid":',
      },
      {
        method: 'POST',
        path,
        headers: { 'content-type': 'application/xml', 'x-twilio-signature': sign(path) },
        body: '<x/>',
      },
      {
        method: 'POST',
        path,
        headers: { 'content-type': form, 'x-twilio-signature': sign(path) },
        body: `a=${'x'.repeat(70_000)}`,
      },
      { method: 'GET', path },
    );
  }
  requests.push(
    { method: 'GET', path: '/twilio/media' },
    {
      method: 'GET',
      path: '/twilio/media',
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      },
    },
    {
      method: 'GET',
      path: '/twilio/media',
      headers: {
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
        'x-twilio-signature': 'AAAA',
      },
    },
    { method: 'GET', path: '/healthz' },
    { method: 'GET', path: '/readyz' },
    { method: 'POST', path: '/metrics' },
    { method: 'GET', path: '/admin/calls' },
    { method: 'GET', path: '/admin/calls', headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` } },
    { method: 'GET', path: '/admin/calls', headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } },
    { method: 'GET', path: '/admin/calls', headers: { authorization: ADMIN_TOKEN } },
    { method: 'GET', path: '/admin/calls', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    {
      method: 'POST',
      path: '/admin/calls',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"to":"nope","from":1,"agent":"support","x":true}',
    },
    {
      method: 'POST',
      path: '/admin/calls',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"to":',
    },
    {
      method: 'POST',
      path: '/admin/calls',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"to":"+15550009999","from":"+15557654321","agent":"nobody"}',
    },
    {
      method: 'POST',
      path: `/admin/calls/CA${'9'.repeat(32)}/hangup`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    },
    {
      method: 'POST',
      path: `/admin/calls/CA${'9'.repeat(32)}/transfer`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{"destination":',
    },
    { method: 'POST', path: `/admin/calls/CA${'9'.repeat(32)}/hangup` },
    { method: 'DELETE', path: '/admin/calls' },
    { method: 'GET', path: '/nowhere' },
    { method: 'GET', path: '/twilio/voice?x=%zz' },
  );
  const answers: string[] = [];
  for (const r of requests) {
    const headers = {
      host: `127.0.0.1:${port}`,
      connection: 'close',
      ...(r.headers ?? {}),
      ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}),
    };
    const head = `${r.method} ${r.path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`;
    answers.push(`${r.method} ${r.path} → ${await rawExchange(port, head + (r.body ?? ''))}`);
  }
  answers.push(
    `raw garbage → ${await rawExchange(port, `GET /healthz HTTP/1.1\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nX-Bad: a\rb\r\n\r\n`)}`,
  );
  return answers;
}

// ---------------------------------------------------------------------------------------------

let saved: Record<string, string | undefined> = {};
beforeAll(() => {
  // Webhook secrets are read from the process environment when the tools load.
  saved = { a: process.env.TOOL_SECRET_HOOK_AUTH, s: process.env.TOOL_SECRET_HOOK_SIGNING };
  process.env.TOOL_SECRET_HOOK_AUTH = HOOK_AUTH;
  process.env.TOOL_SECRET_HOOK_SIGNING = HOOK_SIGNING;
});
afterAll(() => {
  if (saved.a === undefined) delete process.env.TOOL_SECRET_HOOK_AUTH;
  else process.env.TOOL_SECRET_HOOK_AUTH = saved.a;
  if (saved.s === undefined) delete process.env.TOOL_SECRET_HOOK_SIGNING;
  else process.env.TOOL_SECRET_HOOK_SIGNING = saved.s;
});

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('secrets never leave the bridge', () => {
  it('keeps every secret out of logs, call records, metrics, error answers and what the engine and Twilio receive', async () => {
    const hook = await startHook();
    cleanups.push(
      () =>
        new Promise((r) => {
          hook.server.closeAllConnections();
          hook.server.close(r);
        }),
    );
    const h = await startHarness({
      configText: configText(hook.url),
      env: { PYAI_API_KEY, ADMIN_TOKEN },
      // the engine closes any session that does not present this key (4401)
      engine: { scenario, apiKey: PYAI_API_KEY },
      human: { answer: 'answer', ringMs: 300, talkMs: 800 },
      secrets: [], // no scrubbing in the logger: a leak must be fixed where it starts
    });
    cleanups.push(() => h.close());

    // call 1: speaks, four tools run, the agent transfers, the human answers and hangs up
    const transferred = h.sim.placeCall({
      to: '+15550001111',
      from: '+15557654321',
      maxDurationMs: 30_000,
      caller: [{ afterAgentSilenceMs: 300, say: 'Hi, where is my order?' }],
    });
    // call 2: hung up by an operator through the admin API
    const hungUp = h.sim.placeCall({ to: '+15550001111', from: '+15557654322', maxDurationMs: 30_000 });
    await waitFor(() => h.bridge.ctx.registry.get(hungUp.callSid)?.hasStream === true, 10_000);
    const list = await fetch(`${h.bridgeUrl}/admin/calls`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const listText = await list.text();
    expect(listText).toContain(hungUp.callSid);
    const hang = await fetch(`${h.bridgeUrl}/admin/calls/${hungUp.callSid}/hangup`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(hang.status).toBe(202);
    const results: CallResult[] = [await transferred.done, await hungUp.done];
    await waitFor(() => h.records.length >= 2 && h.bridge.ctx.registry.size === 0, 5000);

    // the calls really happened, with the secrets in use
    expect(results[0]!.dialed).toEqual([{ target: 'number:+15550100200', result: 'completed' }]);
    expect(results[1]!.endedBy).toBe('rest-completed');
    expect(h.engine.sessions.every((s) => s.closed?.code !== 4401)).toBe(true); // the key was presented
    const toolResults = h.engine.sessions.flatMap((s) => s.toolResults);
    expect(toolResults.map((t) => t.name)).toEqual(
      expect.arrayContaining(['get_order_status', 'check_loyalty', 'debug_echo', 'strict_hook', 'transfer_to_human']),
    );
    expect(toolResults.find((t) => t.name === 'check_loyalty')?.output).toEqual({ tier: 'gold', points: 1200 });
    expect(hook.verified).toBe(1); // auth header and signature arrived intact
    expect(toolResults.find((t) => t.name === 'strict_hook')?.output).toMatchObject({
      error: 'http_error',
      status: 401,
    });
    // the echo endpoint answered with the request's headers: they reach the engine without the secret
    expect(toolResults.find((t) => t.name === 'debug_echo')?.output).toMatchObject({
      headers: { authorization: '[redacted]' },
    });
    expect(h.sim.restRequests.every((r) => r.authOk)).toBe(true);

    const answers = await errorAnswers(h);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    const found = [
      ...leaks('logs', h.logs.text()),
      ...leaks('call records', JSON.stringify(h.records)),
      ...leaks('/metrics', metrics),
      ...leaks('admin call list', listText),
      ...answers.flatMap((a) => leaks(`answer of ${a.split(' → ')[0]}`, a)),
      ...leaks('tool results sent to the engine', JSON.stringify(toolResults)),
      ...leaks('engine configure and events', JSON.stringify(h.engine.sessions.map((s) => [s.config, s.transcripts]))),
      ...leaks('requests to Twilio', JSON.stringify(h.sim.restRequests.map((r) => [r.path, r.form]))),
      ...leaks('what Twilio saw', JSON.stringify(results.map((r) => r.timeline))),
    ];
    expect(found).toEqual([]);
    // the searches looked at real material
    expect(h.logs.lines.length).toBeGreaterThan(50);
    expect(h.logs.lines.some((l) => l.includes('"level":20'))).toBe(true); // debug lines included
    expect(metrics).toContain('bridge_tool_calls_total');
    expect(answers.filter((a) => / → HTTP\/1\.1 4\d\d /.test(a)).length).toBeGreaterThan(30);
  }, 60_000);
});
