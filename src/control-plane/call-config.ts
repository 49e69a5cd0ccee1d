import type { ConfigFile } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { ControlPlane } from './control-plane.js';
import { readDatabaseConfig } from './runtime-config.js';

/** The reload source of a change heard on the change feed (change-feed.ts). */
export const DATABASE_SOURCE = 'database';

export interface CallConfig {
  file: ConfigFile;
  /** the stored secrets the database's tools name (an overlay on the process's environment) */
  env?: Record<string, string>;
  fromDatabase: boolean;
  /** bound MCP tools this version does not run from the database */
  skipped: string[];
}

/**
 * The configuration calls run from with DATABASE_URL: `bridge:` and `sip:` from `base` (the file
 * BRIDGE_CONFIG, read at start-up or again by a reload), agents, numbers and default_agent (and
 * the agents' tools) from the database. A database without any agent leaves the file's agents in
 * force (said at warn), so a fleet that sets DATABASE_URL before its first `config import` still
 * answers its calls.
 */
export async function callConfig(cp: ControlPlane, base: ConfigFile, fileAgents: ConfigFile): Promise<CallConfig> {
  const db = await readDatabaseConfig(cp.pool, cp.box, base.sip);
  if (!db)
    return {
      file: {
        ...base,
        agents: fileAgents.agents,
        numbers: fileAgents.numbers,
        default_agent: fileAgents.default_agent,
      },
      fromDatabase: false,
      skipped: [],
    };
  return {
    file: { ...base, agents: db.agents, numbers: db.numbers, default_agent: db.default_agent },
    env: db.env,
    fromDatabase: true,
    skipped: db.skipped,
  };
}

/** Says once, at start-up, which configuration calls take. */
export function logCallConfigSource(c: CallConfig, logger: Logger): void {
  if (c.fromDatabase)
    logger.warn(
      'control plane: calls take their agents, numbers, default_agent and tools from the database; those of BRIDGE_CONFIG are ignored (its bridge: section applies)',
    );
  else
    logger.warn(
      'control plane: the database holds no agent yet: calls take their agents and numbers from BRIDGE_CONFIG until one is created (PUT /v1/agents/{id} or `config import`)',
    );
  if (c.skipped.length) logger.warn({ tools: c.skipped }, 'control plane: MCP tools from the database are not run yet');
}
