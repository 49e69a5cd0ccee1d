/**
 * The control plane's pool and migrations against the real PostgreSQL (127.0.0.1:5432): each
 * test file owns a randomly named database, dropped at the end.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATION_LOCK_NAME, MIGRATIONS_TABLE } from '../../../src/control-plane/migrate.js';
import { ControlPlaneStartError, openPool, type Pool } from '../../../src/control-plane/pool.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createTestDatabase, missingDatabaseUrl, type TestDatabase } from '../../helpers/postgres.js';

const logger = createLogger({ level: 'silent' });
let db: TestDatabase;
const pools: Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
  await db?.drop();
});

async function pool(): Promise<Pool> {
  const p = await openPool(db.url, logger);
  pools.push(p);
  return p;
}

describe('control plane pool', () => {
  it('refuses a database that does not exist, naming DATABASE_URL and not creating it', async () => {
    const url = missingDatabaseUrl();
    const err = await openPool(url, logger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ControlPlaneStartError);
    expect((err as Error).message).toMatch(/^DATABASE_URL .* does not exist/);
    const name = new URL(url).pathname.slice(1);
    const admin = await pool();
    const r = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    expect(r.rowCount).toBe(0);
  });

  it('refuses an unreachable server quickly, and never shows the password', async () => {
    const started = Date.now();
    const err = await openPool('postgres://u:hunter2-secret@127.0.0.1:1/x', logger, { connectTimeoutMs: 2000 }).catch(
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((err as Error).message).toContain('DATABASE_URL');
    expect((err as Error).message).toContain('ECONNREFUSED');
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('migrations', () => {
  it('two replicas migrating at once apply each migration exactly once, and both start', async () => {
    const [a, b] = [await pool(), await pool()];
    const [ra, rb] = await Promise.all([migrate(a, { logger }), migrate(b, { logger })]);
    // one of them did the work, the other found it done
    expect([ra.length, rb.length].sort()).toEqual([0, 4]);
    const rows = await a.query(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    expect(rows.rows.map((r: { name: string }) => r.name)).toEqual([
      '1733600000000_control-plane',
      '1733600000001_agents-numbers',
      '1733600000002_settings',
      '1733600000003_call-records',
    ]);
    const tables = await a.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(
      expect.arrayContaining(['agent_tools', 'agents', 'api_keys', 'audit', 'call_records', 'numbers', 'tools']),
    );
    // and a restart applies nothing
    expect(await migrate(a, { logger })).toEqual([]);
  });

  it('waits for the advisory lock another migrator holds, and fails clearly past its bound', async () => {
    const p = await pool();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_NAME]);
      let done = false;
      const waiting = migrate(p, { logger }).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(done).toBe(false);
      const bounded = await migrate(p, { logger, lockTimeoutMs: 200 }).catch((e: unknown) => e);
      expect(bounded).toBeInstanceOf(ControlPlaneStartError);
      expect((bounded as Error).message).toMatch(/^DATABASE_URL: the migrations lock is held/);
      await holder.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_NAME]);
      await waiting;
      expect(done).toBe(true);
    } finally {
      await holder.end();
    }
  });
});
