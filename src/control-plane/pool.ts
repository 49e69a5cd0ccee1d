import pg from 'pg';
import { redactedDatabaseUrl } from '../config/loader.js';
import type { Logger } from '../observability/logger.js';

/**
 * The control plane's connection pool (PostgreSQL, DATABASE_URL). Opening it proves the server
 * answers and the database exists before the bridge listens: a bridge that cannot read its
 * configuration must not take calls. The database is never created here (a typo in its name must
 * not give a fleet a fresh, empty configuration).
 */

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** A pool or a client inside a transaction: what the stores' queries run on. */
export type Queryable = Pick<pg.Pool, 'query'>;

/** A start-up failure of the control plane: the message names DATABASE_URL, never a password. */
export class ControlPlaneStartError extends Error {
  override name = 'ControlPlaneStartError';
}

export interface PoolOptions {
  /** how long the first connection may take (the whole start must stay under 10 s) */
  connectTimeoutMs?: number;
  max?: number;
}

/** Why a connection failed, in words that hold no credential (pg's own texts are not repeated). */
function reasonOf(err: NodeJS.ErrnoException & { code?: string }, database: string, timeoutMs: number): string {
  switch (err.code) {
    case '3D000':
      return `the database "${database}" does not exist (the bridge never creates it: create it, or fix the name)`;
    case '28P01':
    case '28000':
      return 'the server refused the user or password';
    case 'ECONNREFUSED':
      return 'nothing accepts connections there (ECONNREFUSED)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host does not resolve (${err.code})`;
    case '57P03':
      return 'the server is starting up or shutting down';
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return `the host cannot be reached (${err.code})`;
    default:
      if (/timeout/i.test(err.message)) return `no answer within ${timeoutMs} ms`;
      if (/terminated unexpectedly/i.test(err.message)) return 'the connection was closed before the server answered';
      return `connection failed (${err.code ?? 'error'})`;
  }
}

export async function openPool(url: string, logger: Logger, opts: PoolOptions = {}): Promise<Pool> {
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: timeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'omni-phone-bridge',
  });
  // An idle client's error (the server restarted) must not crash the process: the next query reconnects.
  pool.on('error', (err: NodeJS.ErrnoException) =>
    logger.warn({ code: err.code ?? 'error' }, 'control plane: an idle database connection failed'),
  );
  let database = '';
  try {
    database = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  } catch {
    // validated by the loader already
  }
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new ControlPlaneStartError(
      `DATABASE_URL ${redactedDatabaseUrl(url)} is unusable: ${reasonOf(err as NodeJS.ErrnoException, database, timeoutMs)}`,
    );
  }
  return pool;
}

/**
 * A small pool of its own for background writers (the call history): a query the database does
 * not answer gives up after `queryTimeoutMs`, and their waits never take a connection the API or
 * a call's configuration needs. Not checked at opening: the control plane's pool was.
 */
export function openBackgroundPool(url: string, logger: Logger, queryTimeoutMs = 5000): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: 3000,
    query_timeout: queryTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: 'omni-phone-bridge history',
  });
  pool.on('error', (err: NodeJS.ErrnoException) =>
    logger.warn({ code: err.code ?? 'error' }, 'call history: an idle database connection failed'),
  );
  return pool;
}

/** Runs `fn` in a transaction on one client: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
