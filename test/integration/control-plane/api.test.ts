/**
 * Issue 30, the /v1 control plane API against the real PostgreSQL (a random database per file):
 * keys and roles, the refusal limit, tools (upsert, secrets, SSRF, pagination, delete, rotation),
 * the audit trail and the OpenAPI document. Every secret the tests create is checked absent from
 * responses, the logs and a pg_dump.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane admin');
const SECRETS_KEY = randomBytes(32).toString('base64');
const AUTH_SECRET = `auth-${randomBytes(12).toString('hex')}`;
/** every secret seen or sent: none may appear in a response it was not meant for, a log line or a dump */
const secrets: string[] = [ADMIN, AUTH_SECRET];

let db: TestDatabase;
let h: Harness | undefined;
let sql: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startHarness({
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY, TRUST_PROXY_HOPS: '1' },
    secrets: [ADMIN, SECRETS_KEY],
  });
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
}, 30_000);

afterAll(async () => {
  await sql?.end();
  await h?.close();
  await db?.drop();
});

let source = 1;
/** a fresh client address per test, so that one test's refusals never limit another's */
const newSource = () => `198.51.100.${source++}`;

async function call(
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; from?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const r = await fetch(`${h!.bridgeUrl}${path}`, {
    method,
    headers: {
      'x-forwarded-for': opts.from ?? '192.0.2.250',
      ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const webhookTool = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  description: 'Looks up an order',
  parameters: { type: 'object', properties: { order: { type: 'string' } } },
  side_effect: 'read',
  timeout_ms: 3000,
  webhook: {
    url: 'https://tools.example.com/orders',
    method: 'POST',
    auth_header: 'X-Api-Key',
    auth_secret: AUTH_SECRET,
  },
  ...extra,
});

function expectNoSecret(text: string, allowed: string[] = []): void {
  for (const s of secrets) if (!allowed.includes(s)) expect(text).not.toContain(s);
}

describe('the /v1 API is there only with DATABASE_URL', () => {
  it('answers 404 for /v1 on a bridge without DATABASE_URL', async () => {
    const plain = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    try {
      for (const p of ['/v1/openapi.json', '/v1/tools', '/v1/keys']) {
        const r = await fetch(`${plain.bridgeUrl}${p}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        expect(r.status).toBe(404);
        await r.arrayBuffer();
      }
    } finally {
      await plain.close();
    }
  });

  it('serves the OpenAPI document without a key, describing every route', async () => {
    const r = await call('GET', '/v1/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
    expect(Object.keys(r.body.paths as object).sort()).toEqual([
      '/v1/agents',
      '/v1/agents/{id}',
      '/v1/agents/{id}/tools',
      '/v1/audit',
      '/v1/calls',
      '/v1/calls/{sid}',
      '/v1/calls/{sid}/hangup',
      '/v1/calls/{sid}/transfer',
      '/v1/capabilities',
      '/v1/keys',
      '/v1/keys/{id}',
      '/v1/numbers',
      '/v1/numbers/{e164}',
      '/v1/openapi.json',
      '/v1/tools',
      '/v1/tools/{id}',
      '/v1/tools/{id}/rotate-secret',
    ]);
    const schemas = (r.body.components as { schemas: Record<string, { properties?: object }> }).schemas;
    expect(Object.keys(schemas.ToolBody!.properties!)).toEqual(
      expect.arrayContaining(['name', 'webhook', 'module', 'mcp', 'timeout_ms']),
    );
  });
});

describe('keys and roles', () => {
  it('needs a key everywhere else: none or a wrong one is 401', async () => {
    expect((await call('GET', '/v1/tools', { from: newSource() })).status).toBe(401);
    expect((await call('GET', '/v1/tools', { key: `${ADMIN}x`, from: newSource() })).status).toBe(401);
  });

  it('creates a key whose secret is shown once and stored only as a hash; a viewer reads but may not write', async () => {
    const created = await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'wallboard', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body).sort()).toEqual(['id', 'name', 'role', 'secret']);
    const viewer = created.body.secret as string;
    secrets.push(viewer);
    const stored = await sql.query('SELECT * FROM api_keys WHERE id = $1', [created.body.id]);
    expect(JSON.stringify(stored.rows)).not.toContain(viewer);
    const from = newSource();
    expect((await call('GET', '/v1/tools', { key: viewer, from })).status).toBe(200);
    const write = await call('POST', '/v1/tools', { key: viewer, from, body: webhookTool('viewer_write') });
    expect(write.status).toBe(403);
    expect(write.body.error).toBe('forbidden');
    expect((await call('GET', '/v1/audit', { key: viewer, from })).status).toBe(403);
    expect((await call('GET', '/v1/keys', { key: viewer, from })).status).toBe(403);
    expect((await call('POST', '/v1/keys', { key: viewer, from, body: { name: 'x', role: 'admin' } })).status).toBe(
      403,
    );
    // the list shows keys without secrets
    const list = await call('GET', '/v1/keys', { key: ADMIN });
    expect((list.body.items as { name: string }[]).map((k) => k.name)).toEqual(['bootstrap', 'wallboard']);
    expectNoSecret(list.text);
  });

  it('an operator reads but may not write tools or keys', async () => {
    const op = await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'desk', role: 'operator' } });
    secrets.push(op.body.secret as string);
    const from = newSource();
    expect((await call('GET', '/v1/tools', { key: op.body.secret as string, from })).status).toBe(200);
    expect(
      (await call('POST', '/v1/tools', { key: op.body.secret as string, from, body: webhookTool('op_write') })).status,
    ).toBe(403);
    expect((await call('GET', '/v1/keys', { key: op.body.secret as string, from })).status).toBe(403);
  });

  it('refuses a duplicate live name and the reserved bootstrap name, and validates the role', async () => {
    expect((await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'wallboard', role: 'admin' } })).status).toBe(
      409,
    );
    expect((await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'bootstrap', role: 'admin' } })).status).toBe(
      409,
    );
    const bad = await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'n', role: 'root', rol: 1 } });
    expect(bad.status).toBe(422);
    expect(bad.body.issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^role: /),
        expect.stringMatching(/^rol: unknown key; did you mean role\?/),
      ]),
    );
  });

  it('revokes a key at once: refused by the very next request after the DELETE answered', async () => {
    const k = await call('POST', '/v1/keys', { key: ADMIN, body: { name: 'temp', role: 'admin' } });
    const secret = k.body.secret as string;
    secrets.push(secret);
    expect((await call('GET', '/v1/tools', { key: secret })).status).toBe(200);
    const del = await call('DELETE', `/v1/keys/${k.body.id as string}`, { key: ADMIN });
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).toBeTruthy();
    expect((await call('GET', '/v1/tools', { key: secret, from: newSource() })).status).toBe(401);
    expect((await call('DELETE', `/v1/keys/${k.body.id as string}`, { key: ADMIN })).status).toBe(404);
    // the bootstrap key is ADMIN_TOKEN's: not revoked through the API
    const boot = (await call('GET', '/v1/keys', { key: ADMIN })).body.items as { id: string; name: string }[];
    const id = boot.find((x) => x.name === 'bootstrap')!.id;
    expect((await call('DELETE', `/v1/keys/${id}`, { key: ADMIN })).status).toBe(409);
  });

  it('answers 429 past 30 refusals a minute from one source, counted; a valid key from it still gets in', async () => {
    const from = newSource();
    const codes: number[] = [];
    for (let i = 0; i < 40; i++) codes.push((await call('GET', '/v1/tools', { key: `wrong-${i}`, from })).status);
    expect(codes.slice(0, 30).every((c) => c === 401)).toBe(true);
    expect(codes.slice(30).every((c) => c === 429)).toBe(true);
    expect((await call('GET', '/v1/tools', { key: ADMIN, from })).status).toBe(200);
    // another source is not limited by it
    expect((await call('GET', '/v1/tools', { key: 'wrong', from: newSource() })).status).toBe(401);
    const metrics = await fetch(`${h!.bridgeUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } }).then(
      (r) => r.text(),
    );
    expect(metrics).toMatch(/bridge_webhook_rejected_total\{route="v1",reason="rate_limited"\} 10/);
  });
});

describe('tools', () => {
  it('upserts by name: 201 with the signing secret once, then 200 in place with the same id, the secret kept and not returned', async () => {
    const first = await call('POST', '/v1/tools', { key: ADMIN, body: webhookTool('order_lookup') });
    expect(first.status).toBe(201);
    const signing = first.body.signing_secret as string;
    expect(signing).toMatch(/^whsec_/);
    secrets.push(signing);
    expect(first.body.has_auth_secret).toBe(true);
    expect((first.body.webhook as Record<string, unknown>).has_auth_secret).toBe(true);
    expect(first.text).not.toContain(AUTH_SECRET);
    const storedBefore = (
      await sql.query('SELECT signing_secret, auth_secret FROM tools WHERE id = $1', [first.body.id])
    ).rows[0];

    // the same body again, but without the auth secret: kept
    const body2 = webhookTool('order_lookup', { description: 'Looks up an order by number' });
    delete (body2.webhook as Record<string, unknown>).auth_secret;
    const second = await call('POST', '/v1/tools', { key: ADMIN, body: body2 });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.description).toBe('Looks up an order by number');
    expect(second.body.has_auth_secret).toBe(true);
    expect(second.body).not.toHaveProperty('signing_secret');
    expectNoSecret(second.text);
    const storedAfter = (
      await sql.query('SELECT signing_secret, auth_secret FROM tools WHERE id = $1', [first.body.id])
    ).rows[0];
    expect(storedAfter).toEqual(storedBefore);

    // GET answers the same shape as the POST
    const got = await call('GET', `/v1/tools/${first.body.id as string}`, { key: ADMIN });
    expect(got.body).toEqual(second.body);

    // nothing differs: nothing is written (no updated_at change, no audit row)
    const audits = (await sql.query('SELECT count(*)::int AS n FROM audit')).rows[0].n as number;
    const third = await call('POST', '/v1/tools', { key: ADMIN, body: body2 });
    expect(third.status).toBe(200);
    expect(third.body.updated_at).toBe(second.body.updated_at);
    expect((await sql.query('SELECT count(*)::int AS n FROM audit')).rows[0].n).toBe(audits);
  });

  it('keeps every secret out of the database in clear (pg_dump)', () => {
    const dump = execFileSync('pg_dump', ['--data-only', db.url], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    expect(dump).toContain('order_lookup');
    expectNoSecret(dump);
  });

  it('refuses webhook URLs the SSRF policy blocks, naming the rule', async () => {
    const cases: [string, string][] = [
      ['http://tools.example.com/x', 'https_only'],
      ['https://127.0.0.1/x', 'loopback'],
      ['https://localhost/x', 'loopback'],
      ['https://[::1]/x', 'loopback'],
      ['https://10.1.2.3/x', 'private'],
      ['https://192.168.0.10/x', 'private'],
      ['https://169.254.10.1/x', 'link_local'],
      ['https://169.254.169.254/latest/meta-data', 'metadata'],
      ['https://[fd00:ec2::254]/x', 'metadata'],
    ];
    for (const [url, rule] of cases) {
      const r = await call('POST', '/v1/tools', {
        key: ADMIN,
        body: webhookTool('blocked_one', { webhook: { url, method: 'POST' } }),
      });
      expect({ url, status: r.status, error: r.body.error, rule: r.body.rule }).toEqual({
        url,
        status: 422,
        error: 'blocked_url',
        rule,
      });
      expect(typeof r.body.message).toBe('string');
    }
    expect((await sql.query("SELECT 1 FROM tools WHERE name = 'blocked_one'")).rowCount).toBe(0);
  });

  it('refuses an invalid body whole, naming each path (unknown keys with "did you mean")', async () => {
    const r = await call('POST', '/v1/tools', {
      key: ADMIN,
      body: {
        ...webhookTool('typo_tool'),
        descripton: 'x',
        timeout_ms: 50,
        webhook: { url: 'https://a.example.com', metod: 'GET' },
      },
    });
    expect(r.status).toBe(422);
    expect(r.body.error).toBe('invalid_body');
    expect(r.body.issues).toEqual(
      expect.arrayContaining([
        'descripton: unknown key; did you mean description?',
        expect.stringMatching(/^timeout_ms: /),
        'webhook.metod: unknown key; did you mean method?',
      ]),
    );
    const two = await call('POST', '/v1/tools', {
      key: ADMIN,
      body: { ...webhookTool('two'), module: { module: './x.js' } },
    });
    expect(two.status).toBe(422);
    expect(String(two.body.issues)).toContain('exactly one executor');
    const noSecret = webhookTool('needs_secret');
    delete (noSecret.webhook as Record<string, unknown>).auth_secret;
    const ns = await call('POST', '/v1/tools', { key: ADMIN, body: noSecret });
    expect(ns.status).toBe(422);
    expect(ns.body.issues).toEqual([expect.stringMatching(/^webhook\.auth_secret: is required/)]);
  });

  it('takes module and MCP executors, the MCP secret sealed like any other', async () => {
    const mod = await call('POST', '/v1/tools', {
      key: ADMIN,
      body: {
        name: 'book_slot',
        description: 'Books a slot',
        parameters: { type: 'object' },
        side_effect: 'action',
        module: { module: './tools/book.js' },
      },
    });
    expect(mod.status).toBe(201);
    expect(mod.body.module).toEqual({ module: './tools/book.js' });
    expect(mod.body.has_auth_secret).toBe(false);
    secrets.push(mod.body.signing_secret as string);
    const token = `mcp-${randomBytes(10).toString('hex')}`;
    secrets.push(token);
    const mcp = await call('POST', '/v1/tools', {
      key: ADMIN,
      body: {
        name: 'crm',
        description: 'CRM tools',
        side_effect: 'read',
        mcp: { url: 'https://mcp.example.com/mcp', transport: 'sse', auth: { kind: 'bearer', token }, prefix: 'crm' },
      },
    });
    expect(mcp.status).toBe(201);
    secrets.push(mcp.body.signing_secret as string);
    expect(mcp.body.has_auth_secret).toBe(true);
    expect(mcp.body.mcp).toMatchObject({
      url: 'https://mcp.example.com/mcp',
      transport: 'sse',
      auth: { kind: 'bearer' },
      prefix: 'crm',
    });
    expectNoSecret(mcp.text, [mcp.body.signing_secret as string]);
    const blocked = await call('POST', '/v1/tools', {
      key: ADMIN,
      body: { name: 'crm2', description: 'x', side_effect: 'read', mcp: { url: 'https://10.0.0.5/mcp' } },
    });
    expect(blocked.body.rule).toBe('private');
  });

  it('lists tools by name in pages of ?limit, with next_cursor; refuses a limit out of 1..500', async () => {
    for (const n of ['page_a', 'page_b', 'page_c']) {
      const r = await call('POST', '/v1/tools', { key: ADMIN, body: webhookTool(n) });
      secrets.push(r.body.signing_secret as string);
    }
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { body: Record<string, unknown> } = await call(
        'GET',
        `/v1/tools?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { key: ADMIN },
      );
      const items = r.body.items as { name: string }[];
      expect(items.length).toBeLessThanOrEqual(2);
      names.push(...items.map((t) => t.name));
      cursor = r.body.next_cursor as string | null;
      pages++;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['book_slot', 'crm', 'order_lookup', 'page_a', 'page_b', 'page_c']));
    expect(pages).toBe(Math.ceil(names.length / 2));
    expect((await call('GET', '/v1/tools?limit=0', { key: ADMIN })).status).toBe(422);
    expect((await call('GET', '/v1/tools?limit=501', { key: ADMIN })).status).toBe(422);
    expect((await call('GET', '/v1/tools?cursor=nonsense', { key: ADMIN })).status).toBe(422);
    const all = await call('GET', '/v1/tools?limit=500', { key: ADMIN });
    expectNoSecret(all.text);
  });

  it('disables a tool with PATCH, and validates the merged tool', async () => {
    const t = (await call('GET', '/v1/tools?limit=500', { key: ADMIN })).body.items as { id: string; name: string }[];
    const id = t.find((x) => x.name === 'page_a')!.id;
    const r = await call('PATCH', `/v1/tools/${id}`, { key: ADMIN, body: { status: 'disabled' } });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('disabled');
    expect(r.body.has_auth_secret).toBe(true);
    const disabled = await call('GET', '/v1/tools?status=disabled', { key: ADMIN });
    expect((disabled.body.items as { name: string }[]).map((x) => x.name)).toEqual(['page_a']);
    expect((await call('PATCH', `/v1/tools/${id}`, { key: ADMIN, body: { timeout_ms: 99999 } })).status).toBe(422);
    const bad = await call('PATCH', `/v1/tools/${id}`, {
      key: ADMIN,
      body: { webhook: { url: 'https://127.0.0.2/' } },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.rule).toBe('loopback');
    expect(
      (
        await call('PATCH', `/v1/tools/00000000-0000-4000-8000-000000000000`, {
          key: ADMIN,
          body: { status: 'active' },
        })
      ).status,
    ).toBe(404);
    expect((await call('GET', `/v1/tools/${id}`, { key: ADMIN })).body.status).toBe('disabled');
  });

  it('refuses to delete a tool an agent binds (409) unless ?force=true', async () => {
    const t = (await call('GET', '/v1/tools?limit=500', { key: ADMIN })).body.items as { id: string; name: string }[];
    const id = t.find((x) => x.name === 'page_b')!.id;
    expect((await call('PUT', '/v1/agents/support', { key: ADMIN, body: { persona: 'You help.' } })).status).toBe(201);
    expect((await call('PUT', '/v1/agents/support/tools', { key: ADMIN, body: [{ tool: 'page_b' }] })).status).toBe(
      200,
    );
    const refused = await call('DELETE', `/v1/tools/${id}`, { key: ADMIN });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'tool_bound', agents: ['support'] });
    expect((await call('DELETE', `/v1/tools/${id}?force=true`, { key: ADMIN })).status).toBe(200);
    expect((await call('GET', `/v1/tools/${id}`, { key: ADMIN })).status).toBe(404);
    expect((await sql.query('SELECT 1 FROM agent_tools WHERE tool_id = $1', [id])).rowCount).toBe(0);
  });

  it('rotates the signing secret: a new one shown once, the old one kept sealed for the grace period', async () => {
    const t = (await call('GET', '/v1/tools?limit=500', { key: ADMIN })).body.items as { id: string; name: string }[];
    const id = t.find((x) => x.name === 'page_c')!.id;
    const r = await call('POST', `/v1/tools/${id}/rotate-secret`, { key: ADMIN, body: { grace_s: 3600 } });
    expect(r.status).toBe(200);
    const fresh = r.body.signing_secret as string;
    secrets.push(fresh);
    expect(fresh).toMatch(/^whsec_/);
    const until = Date.parse(r.body.previous_signing_secret_until as string);
    expect(until - Date.now()).toBeGreaterThan(3500_000);
    const row = (await sql.query('SELECT previous_signing_secret FROM tools WHERE id = $1', [id])).rows[0];
    expect(row.previous_signing_secret).toMatch(/^v1\./);
    expect((await call('POST', `/v1/tools/${id}/rotate-secret`, { key: ADMIN, body: { grace_s: -1 } })).status).toBe(
      422,
    );
  });
});

describe('audit trail', () => {
  it('has a row for every write, newest first, with the key by name and no secret; admin only; paginated', async () => {
    const r = await call('GET', '/v1/audit?limit=500', { key: ADMIN });
    expect(r.status).toBe(200);
    const rows = r.body.items as {
      id: string;
      at: string;
      key: { id: string; name: string };
      action: string;
      target: string;
      before: unknown;
      after: unknown;
    }[];
    const actions = rows.map((x) => x.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'key.create',
        'key.revoke',
        'tool.create',
        'tool.update',
        'tool.delete_forced',
        'tool.rotate_secret',
      ]),
    );
    expect(rows[0]!.action).toBe('tool.rotate_secret');
    expect(rows.map((x) => Number(x.id))).toEqual([...rows.map((x) => Number(x.id))].sort((a, b) => b - a));
    for (const row of rows) {
      expect(Object.keys(row).sort()).toEqual(['action', 'after', 'at', 'before', 'id', 'key', 'target']);
      expect(row.key.name).toBe('bootstrap');
    }
    // the oldest update: the second upsert of order_lookup
    const update = rows.filter((x) => x.action === 'tool.update').at(-1)!;
    expect(update.before).toMatchObject({ description: 'Looks up an order' });
    expect(update.after).toMatchObject({ description: 'Looks up an order by number', has_auth_secret: true });
    expectNoSecret(r.text);
    // refused requests are counted, not audited
    expect(actions).not.toContain('tool.forbidden');
    const p1 = await call('GET', '/v1/audit?limit=3', { key: ADMIN });
    const p2 = await call('GET', `/v1/audit?limit=3&cursor=${p1.body.next_cursor as string}`, { key: ADMIN });
    expect([...(p1.body.items as { id: string }[]), ...(p2.body.items as { id: string }[])].map((x) => x.id)).toEqual(
      rows.slice(0, 6).map((x) => x.id),
    );
    const filtered = await call('GET', '/v1/audit?action=key.revoke', { key: ADMIN });
    expect((filtered.body.items as unknown[]).length).toBe(1);
  });

  it('never printed a secret in the log', () => {
    expectNoSecret(h!.logs.text());
  });
});
