/**
 * Issue 30: rotating SECRETS_KEY. Values sealed under the old key open while it is
 * SECRETS_KEY_PREVIOUS; `secrets rotate` seals them again under the new key, after which the old
 * key can go: a start with the new key alone succeeds and every value opens.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../../src/config/loader.js';
import { openControlPlane } from '../../../src/control-plane/control-plane.js';
import { keyIdOf } from '../../../src/control-plane/secrets.js';
import { createLogger } from '../../../src/observability/logger.js';
import { BRIDGE_CLI } from '../../helpers/process.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const logger = createLogger({ level: 'silent' });
const OLD = randomBytes(32);
const NEW = randomBytes(32);
const AUTH = `rot-${randomBytes(10).toString('hex')}`;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const open = (env: Record<string, string>) => openControlPlane(loadEnv({ DATABASE_URL: db.url, ...env }), { logger });

describe('secrets rotate', () => {
  it('seals every stored value again under the new key; then the old key is no longer needed', async () => {
    const before = await open({ SECRETS_KEY: OLD.toString('base64') });
    const created = await before.tools.upsert(
      { id: null, name: 'test' },
      {
        name: 'hook',
        description: 'x',
        parameters: { type: 'object' },
        side_effect: 'read',
        timeout_ms: 1000,
        webhook: { url: 'https://tools.example.com/x', method: 'POST', auth_header: 'X-Key', auth_secret: AUTH },
      },
    );
    await before.tools.rotateSigningSecret({ id: null, name: 'test' }, created.tool.id, 3600);
    await before.close();
    const r = spawnSync(process.execPath, [...BRIDGE_CLI, 'secrets', 'rotate'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: db.url,
        SECRETS_KEY: NEW.toString('base64'),
        SECRETS_KEY_PREVIOUS: OLD.toString('base64'),
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toContain('secrets rotate: 3 value(s) sealed again under SECRETS_KEY');
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain(NEW.toString('base64'));
    const dump = execFileSync('pg_dump', ['--data-only', db.url], { encoding: 'utf8' });
    expect(dump).not.toContain(keyIdOf(OLD));
    expect(dump).toContain(keyIdOf(NEW));
    expect(dump).not.toContain(AUTH);
    // the new key alone: it starts, and the values open (a second rotation has nothing to do)
    const after = await open({ SECRETS_KEY: NEW.toString('base64') });
    try {
      const row = (await after.pool.query('SELECT auth_secret FROM tools WHERE id = $1', [created.tool.id])).rows[0];
      expect(after.box!.open(row.auth_secret as string, `tools.auth_secret:${created.tool.id}`)).toBe(AUTH);
    } finally {
      await after.close();
    }
    const old = await open({ SECRETS_KEY: OLD.toString('base64') }).catch((e: unknown) => e);
    expect((old as Error).message).toMatch(/^SECRETS_KEY is not the key/);
  }, 40_000);
});
