/**
 * Issue 30: agents, their tool bindings and number routes through /v1, each validated with the
 * file's schema on the whole configuration it would make, refused whole with the path.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane agents');
const NUMBER = '+15550107788';
let db: TestDatabase;
let h: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY: randomBytes(32).toString('base64') },
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await db?.drop();
});

async function call(method: string, path: string, body?: unknown, key = ADMIN) {
  const r = await fetch(`${h.bridgeUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, text, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const agent = {
  persona: 'You are the billing desk.',
  greeting: 'Billing, how can I help?',
  transfer: { targets: [{ name: 'desk', kind: 'number', value: '+15550100001' }], default: 'desk' },
  dtmf_shortcuts: { '0': 'transfer' },
};

describe('agents', () => {
  it('PUT creates (201), replaces (200), and an unchanged body writes nothing', async () => {
    const a = await call('PUT', '/v1/agents/billing', agent);
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ id: 'billing', persona: agent.persona, greeting: agent.greeting });
    const same = await call('PUT', '/v1/agents/billing', agent);
    expect(same.status).toBe(200);
    expect(same.body.updated_at).toBe(a.body.updated_at);
    const changed = await call('PUT', '/v1/agents/billing', { ...agent, greeting: 'Billing here.' });
    expect(changed.status).toBe(200);
    expect(changed.body.greeting).toBe('Billing here.');
    expect((await call('GET', '/v1/agents/billing')).body.greeting).toBe('Billing here.');
    const list = await call('GET', '/v1/agents');
    expect((list.body.items as { id: string }[]).map((x) => x.id)).toEqual(['billing']);
  });

  it("refuses an invalid agent whole with the file's messages: unknown keys, a transfer default that is no target, an id that differs", async () => {
    const bad = await call('PUT', '/v1/agents/broken', {
      ...agent,
      greting: 'x',
      transfer: { targets: [{ name: 'desk', kind: 'number', value: '+15550100001' }], default: 'nobody' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.issues).toEqual(
      expect.arrayContaining([
        'greting: unknown key; did you mean greeting?',
        expect.stringMatching(/^transfer\.default: /),
      ]),
    );
    expect((await call('GET', '/v1/agents/broken')).status).toBe(404);
    const id = await call('PUT', '/v1/agents/billing', { ...agent, id: 'other' });
    expect(id.status).toBe(422);
    expect(id.body.issues).toEqual(['id: differs from the id in the path']);
    expect(
      (await call('PUT', '/v1/agents/billing', { ...agent, id: 'billing', greeting: 'Billing here.' })).status,
    ).toBe(200);
  });

  it('binds tools by name or id, disabled or not, replacing the set; an unknown tool is refused by its index', async () => {
    const t = await call('POST', '/v1/tools', {
      name: 'balance',
      description: 'Reads a balance',
      parameters: { type: 'object' },
      side_effect: 'read',
      module: { module: './balance.js' },
    });
    expect(t.status).toBe(201);
    const r = await call('PUT', '/v1/agents/billing/tools', [
      { tool: 'balance', enabled: false, settings: { region: 'eu' } },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.items).toEqual([{ tool_id: t.body.id, tool: 'balance', enabled: false, settings: { region: 'eu' } }]);
    const byId = await call('PUT', '/v1/agents/billing/tools', [{ tool: t.body.id }]);
    expect((byId.body.items as { enabled: boolean }[])[0]!.enabled).toBe(true);
    const unknown = await call('PUT', '/v1/agents/billing/tools', [{ tool: 'balance' }, { tool: 'nope' }]);
    expect(unknown.status).toBe(422);
    expect(unknown.body.issues).toEqual(['1.tool: no tool has this id or name']);
    const secret = await call('PUT', '/v1/agents/billing/tools', [{ tool: 'balance', settings: { api_token: 'x' } }]);
    expect(secret.status).toBe(422);
    expect((await call('GET', '/v1/agents/billing/tools')).body.items).toHaveLength(1);
    // the bound tool cannot be deleted without force
    expect((await call('DELETE', `/v1/tools/${t.body.id as string}`)).status).toBe(409);
  });

  it('lists the engine-native call control as capabilities, not tools', async () => {
    const c = await call('GET', '/v1/capabilities');
    expect((c.body.call_control as { name: string }[]).map((x) => x.name)).toEqual([
      'transfer_to_human',
      'send_dtmf',
      'play_hold',
      'collect',
      'end_call',
    ]);
  });
});

describe('numbers', () => {
  it('routes a number to a known agent, refuses an unknown one (with "did you mean") and a non-E.164 number, unroutes', async () => {
    const r = await call('PUT', `/v1/numbers/${encodeURIComponent(NUMBER)}`, { agent: 'billing' });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ number: NUMBER, route: { agent: 'billing' } });
    expect((await call('PUT', `/v1/numbers/${encodeURIComponent(NUMBER)}`, { agent: 'billing' })).status).toBe(200);
    const typo = await call('PUT', `/v1/numbers/${encodeURIComponent(NUMBER)}`, { agent: 'biling' });
    expect(typo.status).toBe(422);
    expect(String(typo.body.issues)).toContain('did you mean "billing"?');
    // errors never hold the full number
    expect(typo.text).not.toContain(NUMBER);
    expect((await call('PUT', '/v1/numbers/5550107788', { agent: 'billing' })).status).toBe(422);
    // an agent a number routes to cannot be deleted
    const del = await call('DELETE', '/v1/agents/billing');
    expect(del.status).toBe(409);
    expect(del.text).not.toContain(NUMBER);
    const list = await call('GET', '/v1/numbers');
    expect(list.body.items).toEqual([expect.objectContaining({ number: NUMBER, route: { agent: 'billing' } })]);
    expect((await call('DELETE', `/v1/numbers/${encodeURIComponent(NUMBER)}`)).status).toBe(204);
    expect((await call('DELETE', `/v1/numbers/${encodeURIComponent(NUMBER)}`)).status).toBe(404);
    expect((await call('DELETE', '/v1/agents/billing')).status).toBe(200);
    expect((await call('GET', '/v1/agents/billing/tools')).status).toBe(404);
  });

  it('audits every agent, binding and number write', async () => {
    const a = await call('GET', '/v1/audit?limit=500');
    const actions = (a.body.items as { action: string }[]).map((x) => x.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'agent.create',
        'agent.update',
        'agent.bindings',
        'number.route',
        'number.unroute',
        'agent.delete',
      ]),
    );
  });
});
