/**
 * Issue 30: a webhook tool registered through /v1 is delivered with its stored secrets: the
 * auth_secret opened and sent as its auth header, the body signed with the signing secret the
 * 201 answered. After rotate-secret, deliveries carry the new signature and, during the grace
 * period, the old one beside it: a receiver verifying with either secret accepts them. The
 * binding's settings reach the tool in its context.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../../src/sim/engine/index.js';
import { verifyBridgeSignature } from '../../../src/tools/signing.js';
import { AGENT_NUMBER, CALLER_NUMBER, testConfig, toneVoice } from '../../helpers/control.js';
import { startHarness, waitFor, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane webhook secrets');
const SECRETS_KEY = randomBytes(32).toString('base64');
const AUTH_SECRET = `hook-${randomBytes(16).toString('hex')}`;

const STEPS = [
  { say: 'Hi.', no_wait: true },
  { tool_call: { name: 'lookup_order', arguments: { order_id: '4417' }, call_id: 't1' } },
  { say: 'Bye.' },
  { verb: 'end_call', args: { reason: 'done' } },
];

interface Delivery {
  headers: IncomingHttpHeaders;
  body: string;
}

let db: TestDatabase;
let h: Harness;
let receiver: Server;
let hookUrl: string;
const deliveries: Delivery[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'shipped' }));
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const file = testConfig({ bridge: { tool_allow_hosts: ['127.0.0.1'] } });
  h = await startHarness({
    configText: JSON.stringify(file),
    engine: { scenario: parseScenario({ name: 'webhook-secrets', steps: STEPS }), tts: toneVoice },
    human: { answer: 'answer', ringMs: 300, talkMs: 500 },
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY },
    secrets: [ADMIN, SECRETS_KEY, AUTH_SECRET],
  });
  const { id: _id, ...agent } = (file.agents as Record<string, unknown>[])[0]!;
  void _id;
  expect((await api('PUT', '/v1/agents/support', agent)).status).toBe(201);
  expect((await api('PUT', `/v1/numbers/${encodeURIComponent(AGENT_NUMBER)}`, { agent: 'support' })).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await h?.close();
  await new Promise((r) => receiver?.close(r));
  await db?.drop();
});

async function api(method: string, path: string, body?: unknown) {
  const r = await fetch(`${h.bridgeUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** Places one call whose agent calls the tool at once; returns the delivery it made. */
async function deliveryOfOneCall(): Promise<Delivery> {
  const before = deliveries.length;
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 30_000 });
  await call.done;
  await waitFor(() => deliveries.length > before, 5000);
  return deliveries[before]!;
}

const verifies = (d: Delivery, secret: string) =>
  verifyBridgeSignature({ header: d.headers['x-bridge-signature'], rawBody: d.body, secret }).ok;

/** Waits until the replica's agent in force has a tool whose configuration differs from `old`. */
async function toolChanged(old: unknown): Promise<void> {
  await waitFor(() => {
    const t = h.bridge.ctx.agentForNumber(AGENT_NUMBER).tools.find((x) => x.name === 'lookup_order');
    return t !== undefined && JSON.stringify(t) !== JSON.stringify(old);
  }, 10_000);
}

describe('stored webhook secrets at delivery', () => {
  it('refuses an auth_secret shorter than the runtime accepts (it would stop every replica taking the configuration)', async () => {
    const r = await api('POST', '/v1/tools', {
      name: 'short_secret',
      description: 'Short.',
      side_effect: 'read',
      parameters: { type: 'object' },
      webhook: { url: hookUrl, auth_header: 'X-Hook-Auth', auth_secret: 'abc' },
    });
    expect(r.status).toBe(422);
    expect(r.body.issues).toEqual([expect.stringMatching(/^webhook\.auth_secret: must be at least 8 characters/)]);
  });

  let signing: string;
  let toolId: string;

  it("sends the stored auth_secret as its header and signs with the tool's signing secret", async () => {
    const r = await api('POST', '/v1/tools', {
      name: 'lookup_order',
      description: 'Order status by number.',
      side_effect: 'read',
      timeout_ms: 3000,
      parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
      webhook: { url: hookUrl, auth_header: 'X-Hook-Auth', auth_secret: AUTH_SECRET },
    });
    expect(r.status).toBe(201);
    signing = r.body.signing_secret as string;
    toolId = r.body.id as string;
    const bound = await api('PUT', '/v1/agents/support/tools', [
      { tool: 'lookup_order', enabled: true, settings: { region: 'eu-west', priority: 2 } },
    ]);
    expect(bound.status).toBe(200);
    await toolChanged(undefined);

    const d = await deliveryOfOneCall();
    expect(d.headers['x-hook-auth']).toBe(AUTH_SECRET);
    expect(verifies(d, signing)).toBe(true);
    // the binding's settings reach the tool in its context
    expect(JSON.parse(d.body)).toMatchObject({
      name: 'lookup_order',
      arguments: { order_id: '4417' },
      context: { agent_id: 'support', settings: { region: 'eu-west', priority: 2 } },
    });
    // one signature: no rotation yet
    expect(String(d.headers['x-bridge-signature']).match(/v1=/g)).toHaveLength(1);
    expect(h.engine.sessions.at(-1)!.toolResults).toEqual([
      { callId: 't1', name: 'lookup_order', output: { status: 'shipped' } },
    ]);
    expect(h.logs.text()).not.toContain(AUTH_SECRET);
    expect(h.logs.text()).not.toContain(signing);
  }, 60_000);

  it('after rotate-secret, a receiver on the old secret and one on the new both verify the delivery during the grace period', async () => {
    const inForce = h.bridge.ctx.agentForNumber(AGENT_NUMBER).tools.find((x) => x.name === 'lookup_order');
    const r = await api('POST', `/v1/tools/${toolId}/rotate-secret`, { grace_s: 3600 });
    expect(r.status).toBe(200);
    const fresh = r.body.signing_secret as string;
    expect(fresh).not.toBe(signing);
    await toolChanged(inForce);

    const d = await deliveryOfOneCall();
    expect(verifies(d, fresh)).toBe(true);
    expect(verifies(d, signing)).toBe(true);
    expect(verifies(d, `whsec_${randomBytes(32).toString('base64url')}`)).toBe(false);
    expect(d.headers['x-hook-auth']).toBe(AUTH_SECRET);

    // a rotation without grace: the replaced secret no longer verifies
    // taken before the write: its reload may come before the API's answer
    const rotated = h.bridge.ctx.agentForNumber(AGENT_NUMBER).tools.find((x) => x.name === 'lookup_order');
    const again = await api('POST', `/v1/tools/${toolId}/rotate-secret`, { grace_s: 0 });
    const third = again.body.signing_secret as string;
    await toolChanged(rotated);
    const d2 = await deliveryOfOneCall();
    expect(verifies(d2, third)).toBe(true);
    expect(verifies(d2, fresh)).toBe(false);
    expect(String(d2.headers['x-bridge-signature']).match(/v1=/g)).toHaveLength(1);
  }, 60_000);
});
