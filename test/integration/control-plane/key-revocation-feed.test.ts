/**
 * The change feed tells the console of revoked keys (real PostgreSQL): a committed revocation's
 * id, never a rolled-back one, and after a lost LISTEN connection a "maybe some" (no id), so the
 * console checks every key it has sessions for.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangeFeed, notifyKeyRevoked } from '../../../src/control-plane/change-feed.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../../helpers/postgres.js';

const KEY_ID = '00000000-0000-4000-8000-00000000c0de';
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('key revocations on the change feed', () => {
  it('hears a committed revocation by id, not a rolled-back one, and after a reconnection asks for a sweep', async () => {
    const heard: (string | undefined)[] = [];
    const reasons: string[] = [];
    const feed = new ChangeFeed({
      url: db.url,
      logger: silentLogger(),
      onChange: (r) => reasons.push(r),
      onKeyRevoked: (id) => heard.push(id),
      minBackoffMs: 50,
    });
    await feed.start();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query('BEGIN');
      await notifyKeyRevoked(c, `${KEY_ID.slice(0, -1)}f`);
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await notifyKeyRevoked(c, KEY_ID);
      await c.query('COMMIT');
      await until(() => heard.length > 0, 'the revocation heard');
      expect(heard).toEqual([KEY_ID]);
      expect(reasons).toEqual([]); // a key is not a configuration change: no reload

      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      try {
        await admin.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'omni-phone-bridge:listen'",
          [db.name],
        );
      } finally {
        await admin.end();
      }
      await until(() => heard.length > 1, 'the sweep after the reconnection');
      expect(heard).toEqual([KEY_ID, undefined]);
      expect(reasons).toEqual(['reconnect']);
    } finally {
      await c.end();
      await feed.stop();
    }
  }, 30_000);
});
