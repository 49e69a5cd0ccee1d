/**
 * Issue 30, start-up with DATABASE_URL: the real `serve` process exits 1 within 10 s when the
 * database is missing or the server unreachable, naming DATABASE_URL and never its password;
 * the secrets key is checked against what the database holds; the database is never created.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/loader.js';
import { openControlPlane } from '../../../src/control-plane/control-plane.js';
import { ControlPlaneStartError } from '../../../src/control-plane/pool.js';
import { createLogger } from '../../../src/observability/logger.js';
import { freePort } from '../../../src/sim/stack.js';
import { BRIDGE_CLI } from '../../helpers/process.js';
import { createTestDatabase, missingDatabaseUrl, PG_ADMIN_URL, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const logger = createLogger({ level: 'silent' });
const ADMIN = testToken('control plane start-up');

function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, [...BRIDGE_CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const started = Date.now();
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, ms: Date.now() - started });
    }),
  );
  return { exited, output: () => out };
}

/** A URL with a password, the same server and user (trust auth ignores the password). */
function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('serve with DATABASE_URL', () => {
  it('exits 1 within 10 s when the database does not exist, naming DATABASE_URL, never the password, creating nothing', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const url = withPassword(missingDatabaseUrl(), password);
    const p = serve({ PORT: String(await freePort()), DATABASE_URL: url, ADMIN_TOKEN: ADMIN });
    const { code, ms } = await p.exited;
    expect(code).toBe(1);
    // By itself, before the 20 s killer: the 10 s promise is the pool's 5 s connect deadline plus the
    // start; the process's own boot time is CPU load's, so it is not asserted here.
    expect(ms).toBeLessThan(20_000);
    expect(p.output()).toMatch(/DATABASE_URL .* does not exist/);
    expect(p.output()).not.toContain(password);
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [new URL(url).pathname.slice(1)]);
      expect(r.rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  }, 30_000);

  it('exits 1 within 10 s when nothing answers at DATABASE_URL, never the password', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const p = serve({
      PORT: String(await freePort()),
      DATABASE_URL: `postgres://opb:${password}@127.0.0.1:${await freePort()}/opb`,
    });
    const { code, ms } = await p.exited;
    expect(code).toBe(1);
    // By itself, before the 20 s killer: the 10 s promise is the pool's 5 s connect deadline plus the
    // start; the process's own boot time is CPU load's, so it is not asserted here.
    expect(ms).toBeLessThan(20_000);
    expect(p.output()).toContain('DATABASE_URL');
    expect(p.output()).toContain('ECONNREFUSED');
    expect(p.output()).not.toContain(password);
  }, 30_000);

  it('exits 1 with a SECRETS_KEY of the wrong length, naming it and not showing it', async () => {
    const short = randomBytes(20).toString('base64');
    const p = serve({ PORT: String(await freePort()), DATABASE_URL: db.url, SECRETS_KEY: short });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain('SECRETS_KEY must be 32 random bytes');
    expect(p.output()).not.toContain(short);
  }, 30_000);
});

describe('the secrets key against the database', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  const open = (env: Record<string, string>) =>
    openControlPlane(loadEnv({ DATABASE_URL: db.url, ADMIN_TOKEN: ADMIN, ...env }), { logger });

  it('starts without SECRETS_KEY while nothing secret is stored, and then refuses to store a tool (503-worthy)', async () => {
    const cp = await open({});
    try {
      expect(cp.box).toBeUndefined();
      await expect(
        cp.tools.upsert(
          { id: null, name: 't' },
          {
            name: 'x',
            description: 'x',
            parameters: { type: 'object' },
            side_effect: 'read',
            timeout_ms: 1000,
            module: { module: './x.js' },
          },
        ),
      ).rejects.toThrow(/SECRETS_KEY is not set/);
    } finally {
      await cp.close();
    }
  });

  it('refuses a SECRETS_KEY that is not the one the stored secrets were sealed with, or none at all', async () => {
    const cp = await open({ SECRETS_KEY: k1 });
    await cp.tools.upsert(
      { id: null, name: 't' },
      {
        name: 'sealed_one',
        description: 'x',
        parameters: { type: 'object' },
        side_effect: 'read',
        timeout_ms: 1000,
        module: { module: './x.js' },
      },
    );
    await cp.close();
    const wrong = await open({ SECRETS_KEY: k2 }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ControlPlaneStartError);
    expect((wrong as Error).message).toMatch(/^SECRETS_KEY is not the key the database's secrets were stored with/);
    expect((wrong as Error).message).not.toContain(k1);
    expect((wrong as Error).message).not.toContain(k2);
    const none = await open({}).catch((e: unknown) => e);
    expect((none as Error).message).toMatch(
      /^SECRETS_KEY is not set, but the database of DATABASE_URL holds encrypted secrets/,
    );
    // the old key as SECRETS_KEY_PREVIOUS: it starts, and the old values open
    const rotating = await open({ SECRETS_KEY: k2, SECRETS_KEY_PREVIOUS: k1 });
    try {
      const t = await rotating.tools.list(rotating.pool, 10);
      const id = t.items[0]!.id;
      const r = await rotating.tools.rotateSigningSecret({ id: null, name: 't' }, id, 0);
      expect(r?.signing_secret).toMatch(/^whsec_/);
    } finally {
      await rotating.close();
    }
  });
});
