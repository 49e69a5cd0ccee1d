/**
 * Issue 30: a replica that loses its control plane database keeps serving, says so on /readyz
 * (200 degraded, database_unreachable), answers /v1 with 503 rather than hanging or crashing,
 * and is ready again when the database returns. The loss is a cut TCP proxy (PostgreSQL is shared).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { METRICS_AUTH, testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane database lost');
let db: TestDatabase;
let proxy: TcpProxy;
let h: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startTcpProxy(5432);
  const url = new URL(db.url);
  url.port = String(proxy.port);
  h = await startHarness({
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: url.toString(), SECRETS_KEY: randomBytes(32).toString('base64') },
  });
}, 30_000);

afterAll(async () => {
  await h?.close();
  await proxy?.close();
  await db?.drop();
});

async function readyz(): Promise<{ status: number; body: { status: string; reasons?: string[] } }> {
  const r = await fetch(`${h.bridgeUrl}/readyz`, { headers: METRICS_AUTH });
  return { status: r.status, body: (await r.json()) as { status: string; reasons?: string[] } };
}

describe('the control plane database lost and back', () => {
  it('keeps serving, degraded on /readyz, 503 on /v1, and is ready again when the database returns', async () => {
    expect((await readyz()).body.status).toBe('ready');
    proxy.cut();
    let last: Awaited<ReturnType<typeof readyz>> | undefined;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && last?.body.status !== 'degraded') {
      last = await readyz();
      if (last.body.status !== 'degraded') await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'degraded', reasons: ['database_unreachable'] }),
    });
    expect((await fetch(`${h.bridgeUrl}/healthz`)).status).toBe(200);
    const v1 = await fetch(`${h.bridgeUrl}/v1/tools`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(v1.status).toBe(503);
    expect(((await v1.json()) as { error: string }).error).toMatch(/unavailable/);
    proxy.restore();
    const back = Date.now() + 10_000;
    while (Date.now() < back && (await readyz()).body.status !== 'ready') await new Promise((r) => setTimeout(r, 200));
    expect((await readyz()).body.status).toBe('ready');
    expect((await fetch(`${h.bridgeUrl}/v1/tools`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(
      200,
    );
  }, 40_000);
});
