/**
 * Issue 30 with two replicas on one database: started together (their migrations race), a key
 * revoked through one is refused by the other at once (every key is looked up in the database),
 * and two first upserts of one name at once make one tool.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane replicas');
const SECRETS_KEY = randomBytes(32).toString('base64');

let db: TestDatabase;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  const env = { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY };
  // together: both run the migrations at once
  [a, b] = await Promise.all([
    startHarness({ env, secrets: [ADMIN, SECRETS_KEY] }),
    startHarness({ env, secrets: [ADMIN, SECRETS_KEY] }),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await db?.drop();
});

async function call(h: Harness, method: string, path: string, key: string, body?: unknown) {
  const r = await fetch(`${h.bridgeUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe('two replicas on one database', () => {
  it('a key created on one works on the other, and once revoked on one is refused on the other at once', async () => {
    const k = await call(a, 'POST', '/v1/keys', ADMIN, { name: 'shared', role: 'viewer' });
    expect(k.status).toBe(201);
    const secret = k.body.secret as string;
    expect((await call(b, 'GET', '/v1/tools', secret)).status).toBe(200);
    expect((await call(a, 'DELETE', `/v1/keys/${k.body.id as string}`, ADMIN)).status).toBe(200);
    expect((await call(b, 'GET', '/v1/tools', secret)).status).toBe(401);
    expect((await call(a, 'GET', '/v1/tools', secret)).status).toBe(401);
  });

  it('two first upserts of one name at once, on two replicas, make one tool: one 201 and one 200', async () => {
    const body = {
      name: 'raced',
      description: 'Raced',
      parameters: { type: 'object' },
      side_effect: 'read',
      module: { module: './raced.js' },
    };
    const [ra, rb] = await Promise.all([
      call(a, 'POST', '/v1/tools', ADMIN, body),
      call(b, 'POST', '/v1/tools', ADMIN, body),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 201]);
    expect(ra.body.id).toBe(rb.body.id);
    const created = ra.status === 201 ? ra : rb;
    const updated = ra.status === 201 ? rb : ra;
    expect(created.body.signing_secret).toMatch(/^whsec_/);
    expect(updated.body).not.toHaveProperty('signing_secret');
    // each replica reads what the other wrote
    expect((await call(b, 'GET', `/v1/tools/${ra.body.id as string}`, ADMIN)).body.name).toBe('raced');
  });
});
