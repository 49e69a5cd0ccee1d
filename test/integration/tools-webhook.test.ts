import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBridgeSignature } from '../../src/tools/signing.js';
import type { HttpExecutorConfig, ToolDefinition } from '../../src/tools/types.js';
import { at } from '../helpers/checked.js';
import { harness, sleep, type Harness } from '../unit/tools/helpers.js';

/** A loopback webhook receiver whose behaviour each test scripts per request. */
interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Reply = (req: http.IncomingMessage, res: http.ServerResponse, body: string, n: number) => void;

interface Hook {
  url: string;
  received: Received[];
  closed: number[];
  server: http.Server;
}

const servers: http.Server[] = [];
const harnesses: Harness[] = [];

async function hook(reply: Reply): Promise<Hook> {
  const received: Received[] = [];
  const closed: number[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const n = received.length;
      res.on('close', () => closed.push(n));
      reply(req, res, body, n);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received, closed, server };
}

function webhookTool(
  name: string,
  url: string,
  extra: Partial<ToolDefinition> = {},
  ex: Partial<HttpExecutorConfig> = {},
): ToolDefinition {
  return {
    name,
    description: `webhook ${name}`,
    parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
    timeout_ms: 2000,
    side_effect: 'read',
    executor: {
      kind: 'http',
      url,
      method: 'POST',
      signing_secret_env: 'HOOK_SIGNING',
      auth_header: 'Authorization',
      auth_secret_env: 'HOOK_TOKEN',
      ...ex,
    },
    ...extra,
  };
}

const SIGNING = 'sign-secret-9f8e7d6c5b';
const TOKEN = 'Bearer tok-1a2b3c4d5e6f';
const env = { HOOK_SIGNING: SIGNING, HOOK_TOKEN: TOKEN };

async function make(defs: ToolDefinition[], opts: Parameters<typeof harness>[1] = {}): Promise<Harness> {
  const h = await harness(defs, { env, allowHosts: ['127.0.0.1'], ...opts });
  harnesses.push(h);
  return h;
}

const json = (res: http.ServerResponse, status: number, value: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    h.runtime.abortAll();
    h.registry.close();
  }
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('webhook tools: delivery', () => {
  it('posts a signed, idempotent request and returns the JSON answer', async () => {
    const h0 = await hook((_req, res) => json(res, 200, { status: 'shipped', arriving: 'Thursday' }));
    const h = await make([webhookTool('get_order_status', h0.url, {}, { headers: { 'X-Tenant': 'acme' } })]);
    h.runtime.handle({ callId: 'call_7', name: 'get_order_status', arguments: '{"order_id":"4417"}' });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ status: 'shipped', arriving: 'Thursday' });

    const req = at(h0.received, 0, 'requests');
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe(TOKEN);
    expect(req.headers['x-tenant']).toBe('acme');
    expect(req.headers['idempotency-key']).toMatch(/^[0-9a-f]{40}$/);
    expect(JSON.parse(req.body)).toEqual({
      call_id: 'call_7',
      name: 'get_order_status',
      arguments: { order_id: '4417' },
      context: {
        call_sid: 'CA00000000000000000000000000000001',
        agent_id: 'support',
        from: '+15550001111',
        to: '+15550002222',
      },
    });
    expect(
      verifyBridgeSignature({ header: req.headers['x-bridge-signature'], rawBody: req.body, secret: SIGNING }),
    ).toEqual({ ok: true });
    expect(
      verifyBridgeSignature({
        header: req.headers['x-bridge-signature'],
        rawBody: req.body,
        secret: SIGNING,
        nowSec: Math.floor(Date.now() / 1000) + 301,
      }),
    ).toEqual({ ok: false, reason: 'stale' });
  });

  it('carries the signed payload in the query string for GET and returns a text answer as a string', async () => {
    const h0 = await hook((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('order 4417 shipped');
    });
    const h = await make([webhookTool('get_order_status', h0.url, {}, { method: 'GET' })]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: { order_id: '4417' } });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toBe('order 4417 shipped');
    const req = at(h0.received, 0, 'requests');
    expect(req.method).toBe('GET');
    expect(req.body).toBe('');
    const payload = new URL(req.url, 'http://x').searchParams.get('payload')!;
    expect(JSON.parse(payload).arguments).toEqual({ order_id: '4417' });
    expect(
      verifyBridgeSignature({ header: req.headers['x-bridge-signature'], rawBody: payload, secret: SIGNING }),
    ).toEqual({ ok: true });
  });

  it('turns a non-2xx answer into http_error with a bounded snippet and no secret', async () => {
    const h0 = await hook((req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end(`denied for ${req.headers.authorization}\n${'x'.repeat(5000)}`);
    });
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    const out = answer.output as { error: string; status: number; body: string };
    expect(out.error).toBe('http_error');
    expect(out.status).toBe(401);
    expect(out.body.startsWith('denied for [redacted] xxx')).toBe(true);
    expect(out.body.length).toBeLessThanOrEqual(257);
    const everything = JSON.stringify(h.sent) + h.log.text();
    expect(everything).not.toContain('tok-1a2b3c4d5e6f');
    expect(everything).not.toContain(SIGNING);
    expect(h0.received).toHaveLength(1); // 4xx is never retried
  });

  it('does not follow redirects', async () => {
    const h0 = await hook((req, res) => {
      if (req.url === '/hook') {
        res.writeHead(302, { location: '/elsewhere' });
        res.end();
      } else json(res, 200, { followed: true });
    });
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'http_error', status: 302, body: '' });
    await sleep(20);
    expect(h0.received.map((r) => r.url)).toEqual(['/hook']);
  });

  it('reads at most 1 MB of a response, then applies the size cap', async () => {
    const h0 = await hook((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'z'.repeat(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    const out = answer.output as { truncated: boolean; bytes: number };
    expect(out.truncated).toBe(true);
    expect(out.bytes).toBe(1024 * 1024 + 2); // the capped text, serialized as a JSON string
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThanOrEqual(6144);
  });
});

describe('webhook tools: retries', () => {
  it('retries a read once after a 503 with the same idempotency key', async () => {
    const h0 = await hook((_req, res, _b, n) =>
      n === 1 ? json(res, 503, { busy: true }) : json(res, 200, { status: 'shipped' }),
    );
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ status: 'shipped' });
    expect(h0.received).toHaveLength(2);
    expect(at(h0.received, 1, 'requests').headers['idempotency-key']).toBe(
      at(h0.received, 0, 'requests').headers['idempotency-key'],
    );
    expect(h.finished).toEqual([expect.objectContaining({ outcome: 'ok', retried: true })]);
  });

  it('retries a read once after a dropped connection, and gives up after the second failure', async () => {
    const drop = await hook((req) => req.socket.destroy());
    const h = await make([webhookTool('get_order_status', drop.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'tool_failed', message: 'network error: ECONNRESET' });
    expect(drop.received).toHaveLength(2);
    expect(h.finished[0]).toMatchObject({ outcome: 'tool_failed', retried: true });
  });

  it('gives up after two 5xx answers to a read', async () => {
    const h0 = await hook((_req, res) => json(res, 502, { e: 1 }));
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'http_error', status: 502, body: '{"e":1}' });
    expect(h0.received).toHaveLength(2);
  });

  it('never retries an action', async () => {
    const h0 = await hook((_req, res) => json(res, 503, { busy: true }));
    const drop = await hook((req) => req.socket.destroy());
    const h = await make([
      webhookTool('create_ticket', h0.url, { side_effect: 'action' }),
      webhookTool('create_other', drop.url, { side_effect: 'action' }),
    ]);
    h.runtime.handle({ callId: 'c1', name: 'create_ticket', arguments: {} });
    h.runtime.handle({ callId: 'c2', name: 'create_other', arguments: {} });
    const sent = await h.waitFor(2);
    const byId = Object.fromEntries(sent.map((s) => [s.callId, s.output]));
    expect(byId.c1).toEqual({ error: 'http_error', status: 503, body: '{"busy":true}' });
    expect(byId.c2).toEqual({ error: 'tool_failed', message: 'network error: ECONNRESET' });
    await sleep(50);
    expect(h0.received).toHaveLength(1);
    expect(drop.received).toHaveLength(1);
    expect(h.finished.every((f) => !f.retried)).toBe(true);
  });
});

describe('webhook tools: budget and hang-up', () => {
  it('times out a silent webhook at the budget and aborts the request', async () => {
    const h0 = await hook(() => undefined); // never answers
    const h = await make([webhookTool('get_order_status', h0.url, { timeout_ms: 300 })]);
    const t0 = performance.now();
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'tool timed out' });
    expect(answer.at - t0).toBeGreaterThanOrEqual(299);
    // The tool's 300 ms, not the 5 s default: a bound far from both, which CPU load cannot break.
    expect(answer.at - t0).toBeLessThan(2500);
    await sleep(30);
    expect(h0.closed).toEqual([1]); // the request was aborted, not left hanging
  });

  it('aborts a running webhook when the call hangs up and sends nothing', async () => {
    const h0 = await hook((_req, res) => setTimeout(() => json(res, 200, { late: true }), 150));
    const h = await make([webhookTool('get_order_status', h0.url)]);
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    for (let i = 0; i < 50 && h0.received.length === 0; i++) await sleep(5);
    h.runtime.abortAll();
    await sleep(250);
    expect(h.sent).toHaveLength(0);
    expect(h0.closed).toEqual([1]);
    expect(h.finished).toEqual([expect.objectContaining({ outcome: 'aborted' })]);
  });
});

describe('webhook tools: SSRF', () => {
  it.each([
    ['https://127.0.0.1/x', 'address is loopback'],
    ['https://[::1]/x', 'address is loopback'],
    ['https://169.254.169.254/latest', 'address is metadata'],
    ['https://192.168.0.10/x', 'address is private'],
    ['https://localhost/x', 'address is loopback'],
  ])('refuses %s at load time', async (url, reason) => {
    await expect(harness([webhookTool('t', url)], { env })).rejects.toThrow(`webhook URL refused: ${reason}`);
  });

  it.each([
    ['127.0.0.1', 'address is loopback'],
    ['169.254.169.254', 'address is metadata'],
    ['10.1.2.3', 'address is private'],
    ['::1', 'address is loopback'],
    ['::ffff:127.0.0.1', 'address is loopback'],
  ])('refuses at connect time a name that resolves to %s', async (address, reason) => {
    const h0 = await hook((_req, res) => json(res, 200, { reached: true }));
    const port = new URL(h0.url).port;
    const resolver = async () => [{ address, family: address.includes(':') ? 6 : 4 }];
    const h = await make([webhookTool('get_order_status', `https://hooks.example.test:${port}/hook`)], {
      allowHosts: [],
      resolver,
    });
    h.runtime.handle({ callId: 'c1', name: 'get_order_status', arguments: {} });
    const answer = at(await h.waitFor(1), 0, 'answers');
    expect(answer.output).toEqual({ error: 'blocked_url', message: reason });
    expect(h.finished[0]).toMatchObject({ outcome: 'blocked_url', retried: false });
    expect(h0.received).toHaveLength(0);
  });

  it('refuses localhost through the system resolver when it is not allow-listed', async () => {
    const { guardedLookup } = await import('../../src/tools/netguard.js');
    const err = await new Promise<unknown>((resolve) => guardedLookup()('localhost', {}, (e) => resolve(e)));
    expect((err as { output: unknown }).output).toEqual({ error: 'blocked_url', message: 'address is loopback' });
  });
});
