import { configFileSchema, type AgentConfig, type ConfigFile } from '../config/schema.js';
import { issueLines, strictKeysErrorMap } from '../config/suggest.js';
import { maskForPage } from '../observability/redact.js';
import type { HttpExecutorConfig, ToolDefinition } from '../tools/types.js';
import { getSetting } from './config-store.js';
import type { Pool } from './pool.js';
import type { SecretBox } from './secrets.js';

/**
 * What calls run from when DATABASE_URL is set: the database's agents, number routes and
 * default agent, each agent's tools being its own (from its body) plus the tools bound to it
 * (binding `enabled` and tool `status: active` both required: either one off leaves the tool out
 * of new calls). Read in one REPEATABLE READ snapshot, so a call never gets half of a change.
 *
 * Stored secrets reach the tool registry as an environment overlay: each webhook tool names a
 * variable `TOOL_SECRET_CP_<id>_<version>_…` that only the overlay holds (never the process's
 * environment, never a log). The version is the row's `updated_at`, so a rotated or replaced
 * secret changes the agent's configuration and the agent's registry is loaded again (an
 * unchanged agent keeps its registry and its calls, src/server/agent-set.ts).
 */

export interface DatabaseConfig {
  /** agents, numbers and default_agent (bridge and sip are the caller's) */
  agents: AgentConfig[];
  numbers: ConfigFile['numbers'];
  default_agent: string;
  /** the stored secrets, by the variable names the tools give */
  env: Record<string, string>;
  /** tools bound and enabled that this version cannot run from the database (MCP), by agent */
  skipped: string[];
}

export class DatabaseConfigInvalid extends Error {}

interface ToolRow {
  agent_id: string;
  id: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  side_effect: 'read' | 'action';
  timeout_ms: number;
  kind: 'webhook' | 'module' | 'mcp';
  executor: Record<string, unknown>;
  auth_secret: string | null;
  signing_secret: string;
  previous_signing_secret: string | null;
  previous_signing_until: Date | null;
  settings: Record<string, unknown>;
  updated_at: Date;
}

const varBase = (r: ToolRow) => `TOOL_SECRET_CP_${r.id.replace(/-/g, '').toUpperCase()}_${r.updated_at.getTime()}`;

/** One bound tool as the file's tool definition, its secrets opened into `env`. */
function definitionOf(
  r: ToolRow,
  box: SecretBox | undefined,
  env: Record<string, string>,
  now: number,
): ToolDefinition {
  const base = {
    name: r.name,
    description: r.description,
    parameters: r.parameters,
    timeout_ms: r.timeout_ms,
    side_effect: r.side_effect,
    ...(Object.keys(r.settings ?? {}).length ? { settings: r.settings } : {}),
  };
  if (r.kind === 'module') {
    const ex = r.executor as { module: string; export?: string };
    return { ...base, executor: { kind: 'module', module: ex.module, ...(ex.export ? { export: ex.export } : {}) } };
  }
  if (!box) throw new DatabaseConfigInvalid(`tool "${r.name}": its secrets are stored, and SECRETS_KEY is not set`);
  const ex = r.executor as {
    url: string;
    method?: 'POST' | 'PUT' | 'GET';
    auth_header?: string;
    headers?: Record<string, string>;
  };
  const v = varBase(r);
  const executor: HttpExecutorConfig = {
    kind: 'http',
    url: ex.url,
    method: ex.method ?? 'POST',
    signing_secret_env: `${v}_SIGNING`,
    ...(ex.headers ? { headers: ex.headers } : {}),
  };
  env[`${v}_SIGNING`] = box.open(r.signing_secret, `tools.signing_secret:${r.id}`);
  if (ex.auth_header && r.auth_secret) {
    executor.auth_header = ex.auth_header;
    executor.auth_secret_env = `${v}_AUTH`;
    env[`${v}_AUTH`] = box.open(r.auth_secret, `tools.auth_secret:${r.id}`);
  }
  // The replaced signing secret signs beside the new one until its grace period ends (decisions.md).
  if (r.previous_signing_secret && r.previous_signing_until && r.previous_signing_until.getTime() > now) {
    executor.previous_signing_secret_env = `${v}_PREVIOUS`;
    executor.previous_signing_until_ms = r.previous_signing_until.getTime();
    env[`${v}_PREVIOUS`] = box.open(r.previous_signing_secret, `tools.previous_signing_secret:${r.id}`);
  }
  return { ...base, executor };
}

/**
 * The database's configuration for calls, or undefined when the database holds no agent yet
 * (the file's agents then stay in force: a fleet switched to DATABASE_URL before its first
 * `config import` keeps answering calls). Throws when the database does not answer, or when what
 * it holds does not make a valid configuration (the caller keeps the one in force).
 */
export async function readDatabaseConfig(
  pool: Pool,
  box: SecretBox | undefined,
  sip: ConfigFile['sip'],
  now = Date.now(),
): Promise<DatabaseConfig | undefined> {
  const c = await pool.connect();
  let agents: { id: string; body: Record<string, unknown> }[];
  let numbers: { e164: string; route: unknown }[];
  let tools: ToolRow[];
  let def: unknown;
  try {
    // one snapshot: agents, numbers and bindings as one commit left them
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    agents = (await c.query<{ id: string; body: Record<string, unknown> }>('SELECT id, body FROM agents ORDER BY id'))
      .rows;
    numbers = (await c.query<{ e164: string; route: unknown }>('SELECT e164, route FROM numbers ORDER BY e164')).rows;
    tools = (
      await c.query<ToolRow>(
        `SELECT b.agent_id, b.settings, t.id, t.name, t.description, t.parameters, t.side_effect, t.timeout_ms, t.kind,
           t.executor, t.auth_secret, t.signing_secret, t.previous_signing_secret, t.previous_signing_until, t.updated_at
         FROM agent_tools b JOIN tools t ON t.id = b.tool_id
         WHERE b.enabled AND t.status = 'active' ORDER BY b.agent_id, t.name`,
      )
    ).rows;
    def = await getSetting(c, 'default_agent');
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
  if (agents.length === 0) return undefined;
  const env: Record<string, string> = {};
  const skipped: string[] = [];
  const bound = new Map<string, ToolDefinition[]>();
  for (const t of tools) {
    if (t.kind === 'mcp') {
      skipped.push(`${t.agent_id}: ${t.name}`);
      continue;
    }
    const list = bound.get(t.agent_id) ?? [];
    list.push(definitionOf(t, box, env, now));
    bound.set(t.agent_id, list);
  }
  const ids = agents.map((a) => a.id);
  const doc = {
    default_agent: typeof def === 'string' && ids.includes(def) ? def : ids[0]!,
    agents: agents.map((a) => {
      const own = Array.isArray(a.body.tools) ? (a.body.tools as ToolDefinition[]) : [];
      const extra = bound.get(a.id) ?? [];
      // a bound tool of the same name as one in the agent's body replaces it (names are unique per agent)
      const names = new Set(extra.map((t) => t.name));
      return { ...a.body, id: a.id, tools: [...own.filter((t) => !names.has(t.name)), ...extra] };
    }),
    numbers: Object.fromEntries(numbers.map((n) => [n.e164, n.route])),
    ...(sip ? { sip } : {}),
  };
  // the same schema the file passes; the runtime-only executor fields are put back after it
  const check = configFileSchema.safeParse(stripRuntimeFields(doc), { error: strictKeysErrorMap });
  if (!check.success)
    throw new DatabaseConfigInvalid(
      `the database's configuration is invalid: ${issueLines(check.error.issues).slice(0, 5).map(maskForPage).join('; ')}`,
    );
  const byAgent = new Map(doc.agents.map((a) => [a.id, a.tools]));
  return {
    agents: check.data.agents.map((a) => ({
      ...a,
      tools: a.tools.map((t, i) => {
        const given = byAgent.get(a.id)![i]!;
        return { ...t, executor: given.executor, ...(given.settings ? { settings: given.settings } : {}) };
      }) as AgentConfig['tools'],
    })),
    numbers: check.data.numbers,
    default_agent: check.data.default_agent,
    env,
    skipped,
  };
}

/** The document without the executor fields only the control plane sets (the file's schema refuses them). */
function stripRuntimeFields<T extends { agents: { tools: ToolDefinition[] }[] }>(doc: T): T {
  return {
    ...doc,
    agents: doc.agents.map((a) => ({
      ...a,
      tools: a.tools.map(({ settings: _s, ...t }) => {
        void _s;
        if (t.executor.kind !== 'http') return t;
        const { previous_signing_secret_env: _p, previous_signing_until_ms: _u, ...executor } = t.executor;
        void _p;
        void _u;
        return { ...t, executor };
      }),
    })),
  };
}
