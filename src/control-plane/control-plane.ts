import type { EnvSettings } from '../config/loader.js';
import type { Logger } from '../observability/logger.js';
import { ChangeFeed, type ChangeReason } from './change-feed.js';
import { ConfigStore } from './config-store.js';
import { DatabaseHealth } from './health.js';
import { KeyStore } from './keys.js';
import { migrate } from './migrate.js';
import { ControlPlaneStartError, openBackgroundPool, openPool, type Pool } from './pool.js';
import { SecretBox } from './secrets.js';
import { ToolStore } from './tools-store.js';

/**
 * The control plane of one replica (DATABASE_URL): its pool, the schema brought up to date, the
 * secrets key checked against what the database holds, the bootstrap key refreshed. Any failure
 * is a ControlPlaneStartError naming DATABASE_URL or SECRETS_KEY, and leaves nothing open.
 */
export interface ControlPlane {
  pool: Pool;
  /** the call history writer's own small pool (pool.ts: openBackgroundPool) */
  backgroundPool: Pool;
  box: SecretBox | undefined;
  keys: KeyStore;
  tools: ToolStore;
  /** agents, number routes and bindings */
  config: ConfigStore;
  /** whether the database answers (a background check every second) */
  health(): 'ok' | 'unreachable';
  /**
   * Listens for configuration changes on a connection of its own (LISTEN/NOTIFY, change-feed.ts):
   * `onChange` runs for each, and after each reconnection. Stopped by close().
   */
  watch(
    onChange: (reason: ChangeReason) => void,
    onKeyRevoked?: (keyId: string | undefined) => void,
  ): Promise<ChangeFeed>;
  close(): Promise<void>;
}

export interface OpenOptions {
  logger: Logger;
  connectTimeoutMs?: number;
}

/** The key ids of every sealed value in the database. */
async function storedKeyIds(pool: Pool): Promise<string[]> {
  const r = await pool.query<{ kid: string }>(
    `SELECT DISTINCT split_part(v, '.', 2) AS kid FROM (
       SELECT auth_secret AS v FROM tools UNION ALL SELECT signing_secret FROM tools
       UNION ALL SELECT previous_signing_secret FROM tools) s WHERE v IS NOT NULL`,
  );
  return r.rows.map((x) => x.kid).sort();
}

export async function openControlPlane(env: EnvSettings, opts: OpenOptions): Promise<ControlPlane> {
  if (!env.databaseUrl) throw new ControlPlaneStartError('DATABASE_URL is not set');
  const pool = await openPool(env.databaseUrl, opts.logger, { connectTimeoutMs: opts.connectTimeoutMs });
  try {
    await migrate(pool, { logger: opts.logger });
    const box = env.secretsKey ? new SecretBox(env.secretsKey, env.secretsKeyPrevious) : undefined;
    const kids = await storedKeyIds(pool);
    if (kids.length && !box)
      throw new ControlPlaneStartError(
        'SECRETS_KEY is not set, but the database of DATABASE_URL holds encrypted secrets: set SECRETS_KEY to the key they were stored with',
      );
    const unknown = box ? kids.filter((k) => !box.knows(k)) : [];
    if (unknown.length)
      throw new ControlPlaneStartError(
        `SECRETS_KEY is not the key the database's secrets were stored with (key id${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this SECRETS_KEY is ${box!.keyId}): set SECRETS_KEY to that key, or SECRETS_KEY_PREVIOUS to it while rotating`,
      );
    if (!box) opts.logger.warn('SECRETS_KEY is not set: the control plane refuses writes that store a secret (tools)');
    const keys = new KeyStore(pool, env.adminToken);
    await keys.syncBootstrap();
    if (!env.adminToken)
      opts.logger.warn('ADMIN_TOKEN is not set: no bootstrap key; only keys created before can use /v1');
    const health = new DatabaseHealth(pool, opts.logger);
    const feeds: ChangeFeed[] = [];
    const url = env.databaseUrl;
    const backgroundPool = openBackgroundPool(url, opts.logger);
    return {
      pool,
      backgroundPool,
      box,
      keys,
      tools: new ToolStore(pool, box),
      config: new ConfigStore(pool),
      health: () => health.current,
      watch: async (onChange, onKeyRevoked) => {
        const feed = new ChangeFeed({ url, logger: opts.logger, onChange, ...(onKeyRevoked ? { onKeyRevoked } : {}) });
        feeds.push(feed);
        await feed.start();
        return feed;
      },
      close: async () => {
        health.stop();
        await Promise.all(feeds.map((f) => f.stop()));
        await Promise.all([pool.end(), backgroundPool.end()]);
      },
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof ControlPlaneStartError) throw err;
    throw new ControlPlaneStartError(
      `DATABASE_URL: the control plane did not start (${(err as { code?: string }).code ?? (err as Error).name})`,
    );
  }
}
