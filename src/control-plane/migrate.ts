import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../observability/logger.js';
import { ControlPlaneStartError, type Pool } from './pool.js';

/**
 * The schema's migrations (plain SQL files in migrations/, run by node-pg-migrate), applied at
 * start-up. Replicas that start together take turns: each takes one PostgreSQL advisory lock
 * (session level, on its own connection) before it looks at what is applied, so the second one
 * finds the first one's work done and applies nothing. A wait longer than `lockTimeoutMs` (a
 * migrator stuck elsewhere) is a start-up error rather than a bridge that hangs.
 */

/** migrations/ at the package root, from src/control-plane/ (tsx) as from dist/control-plane/ (node) */
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../migrations');
/** the advisory lock's key: hashtext() of this text (one key per product, whatever the database holds besides) */
export const MIGRATION_LOCK_NAME = 'omni-phone-bridge:migrations';
export const MIGRATIONS_TABLE = 'opb_migrations';

export interface MigrateOptions {
  logger: Logger;
  dir?: string;
  lockTimeoutMs?: number;
}

/** Applies every pending migration; returns the names applied (none when another replica did). */
export async function migrate(pool: Pool, opts: MigrateOptions): Promise<string[]> {
  const client = await pool.connect();
  const log = opts.logger;
  try {
    const waitMs = Math.max(1, Math.floor(opts.lockTimeoutMs ?? 30_000));
    try {
      await client.query(`SET lock_timeout = ${waitMs}`);
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_NAME]);
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
      throw new ControlPlaneStartError(
        `DATABASE_URL: the migrations lock is held by another process for more than ${waitMs} ms (a replica still migrating, or a stuck one)`,
      );
    } finally {
      // the pool's next user of this connection must not inherit the bound
      await client.query('RESET lock_timeout').catch(() => undefined);
    }
    try {
      const applied = await runner({
        dbClient: client,
        dir: opts.dir ?? MIGRATIONS_DIR,
        direction: 'up',
        migrationsTable: MIGRATIONS_TABLE,
        checkOrder: true,
        singleTransaction: true,
        // our own lock above covers the check and the run; node-pg-migrate's would fail, not wait
        noLock: true,
        logger: {
          debug: (m: string) => log.debug({ component: 'migrations' }, m),
          info: (m: string) => log.debug({ component: 'migrations' }, m),
          warn: (m: string) => log.warn({ component: 'migrations' }, m),
          error: (m: string) => log.error({ component: 'migrations' }, m),
        },
      });
      const names = applied.map((m) => m.name);
      if (names.length) log.info({ migrations: names }, 'control plane: database migrations applied');
      return names;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_NAME]);
    }
  } finally {
    client.release();
  }
}
