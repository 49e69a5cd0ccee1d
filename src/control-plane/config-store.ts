import type { z } from 'zod';
import { configFileSchema, type AgentConfig } from '../config/schema.js';
import { issueLines, strictKeysErrorMap } from '../config/suggest.js';
import { maskForPage } from '../observability/redact.js';
import { writeAudit, type Actor } from './audit.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { pageOf, type Page } from './pagination.js';
import { isUuid } from './tools-store.js';

/**
 * Agents, number routes and agents' tool bindings in PostgreSQL. Every write is checked against
 * the file's own schema on the whole configuration it would make (every agent and number, the
 * cross-references included: a number routing to an unknown agent, a transfer default that is
 * not a target), and refused whole with the paths of what is wrong. Writes take one advisory
 * lock, so two writes never validate against each other's stale state.
 */

export type AgentBody = Omit<AgentConfig, 'id'>;
export type NumberRoute = z.output<typeof configFileSchema>['numbers'][string];

export interface AgentView extends AgentConfig {
  created_at: string;
  updated_at: string;
}

export interface Binding {
  tool_id: string;
  tool: string;
  enabled: boolean;
  settings: Record<string, unknown>;
}

/** A write the whole configuration refuses: one `path: message` line per problem. */
export class ConfigInvalid extends Error {
  constructor(readonly issues: string[]) {
    super('the configuration would be invalid');
  }
}

export class AgentRouted extends Error {
  constructor(readonly numbers: string[]) {
    super('numbers route to this agent');
  }
}

interface AgentRow {
  id: string;
  body: AgentBody;
  created_at: Date;
  updated_at: Date;
}

const agentView = (r: AgentRow): AgentView => ({
  id: r.id,
  ...r.body,
  created_at: r.created_at.toISOString(),
  updated_at: r.updated_at.toISOString(),
});

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const LOCK = 'omni-phone-bridge:config';

export class ConfigStore {
  constructor(private readonly pool: Pool) {}

  private async state(c: PoolClient): Promise<{ agents: Map<string, unknown>; numbers: Map<string, unknown> }> {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK]);
    const a = await c.query<{ id: string; body: Record<string, unknown> }>('SELECT id, body FROM agents ORDER BY id');
    const n = await c.query<{ e164: string; route: unknown }>('SELECT e164, route FROM numbers ORDER BY e164');
    return {
      agents: new Map(a.rows.map((r) => [r.id, { ...r.body, id: r.id }])),
      numbers: new Map(n.rows.map((r) => [r.e164, r.route])),
    };
  }

  /** Validates the whole configuration; returns it parsed, or throws ConfigInvalid with readable paths. */
  private validate(
    agents: Map<string, unknown>,
    numbers: Map<string, unknown>,
    focus: { agent?: string; number?: string },
  ): z.output<typeof configFileSchema> {
    const ids = [...agents.keys()];
    const doc = {
      default_agent: ids[0] ?? '',
      agents: [...agents.values()],
      numbers: Object.fromEntries(numbers),
    };
    const r = configFileSchema.safeParse(doc, { error: strictKeysErrorMap });
    if (r.success) return r.data;
    const lines = issueLines(r.error.issues).map((l) => {
      let out = l.replace(/^agents\.(\d+)/, (_m, i: string) => `agents.${ids[Number(i)] ?? i}`);
      if (focus.agent)
        out = out.replace(new RegExp(`^agents\\.${escape(focus.agent)}(\\.|:)`), (_m, sep: string) =>
          sep === '.' ? '' : '(root):',
        );
      if (focus.number)
        out = out.replace(`numbers.${focus.number}.`, '').replace(`numbers.${focus.number}:`, '(root):');
      return maskForPage(out);
    });
    throw new ConfigInvalid(lines.slice(0, 20));
  }

  async getAgent(id: string): Promise<AgentView | undefined> {
    const r = await this.pool.query<AgentRow>('SELECT id, body, created_at, updated_at FROM agents WHERE id = $1', [
      id,
    ]);
    return r.rows[0] ? agentView(r.rows[0]) : undefined;
  }

  async listAgents(db: Queryable, limit: number, after?: string): Promise<Page<AgentView>> {
    const r = await db.query<AgentRow>(
      `SELECT id, body, created_at, updated_at FROM agents ${after !== undefined ? 'WHERE id > $2' : ''} ORDER BY id LIMIT $1`,
      after !== undefined ? [limit + 1, after] : [limit + 1],
    );
    return pageOf(r.rows, limit, agentView, (x) => x.id);
  }

  /** PUT /v1/agents/{id}: created (true), updated or unchanged (false). */
  async putAgent(
    actor: Actor,
    id: string,
    body: Record<string, unknown>,
  ): Promise<{ created: boolean; agent: AgentView }> {
    return inTransaction(this.pool, async (c) => {
      const { agents, numbers } = await this.state(c);
      const before = await c.query<AgentRow>('SELECT id, body, created_at, updated_at FROM agents WHERE id = $1', [id]);
      const old = before.rows[0];
      agents.set(id, { ...body, id });
      const parsed = this.validate(agents, numbers, { agent: id });
      const { id: _id, ...stored } = parsed.agents.find((a) => a.id === id)!;
      void _id;
      if (old && canonical(old.body) === canonical(stored)) return { created: false, agent: agentView(old) };
      const r = await c.query<AgentRow>(
        `INSERT INTO agents (id, body) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body, updated_at = now() RETURNING id, body, created_at, updated_at`,
        [id, JSON.stringify(stored)],
      );
      const agent = agentView(r.rows[0]!);
      await writeAudit(
        c,
        actor,
        old ? 'agent.update' : 'agent.create',
        `agent:${id}`,
        old ? agentView(old) : null,
        agent,
      );
      return { created: !old, agent };
    });
  }

  /** DELETE /v1/agents/{id}: refused (AgentRouted) while a number routes to it. */
  async deleteAgent(actor: Actor, id: string): Promise<AgentView | undefined> {
    return inTransaction(this.pool, async (c) => {
      const { numbers } = await this.state(c);
      const r = await c.query<AgentRow>('SELECT id, body, created_at, updated_at FROM agents WHERE id = $1', [id]);
      const old = r.rows[0];
      if (!old) return undefined;
      const routed = [...numbers.entries()].filter(([, route]) => agentsOf(route).includes(id));
      if (routed.length) throw new AgentRouted(routed.map(([n]) => n));
      await c.query('DELETE FROM agents WHERE id = $1', [id]);
      const before = agentView(old);
      await writeAudit(c, actor, 'agent.delete', `agent:${id}`, before, null);
      return before;
    });
  }

  async listNumbers(
    db: Queryable,
    limit: number,
    after?: string,
  ): Promise<Page<{ number: string; route: unknown; updated_at: string }>> {
    const r = await db.query<{ e164: string; route: unknown; updated_at: Date }>(
      `SELECT e164, route, updated_at FROM numbers ${after !== undefined ? 'WHERE e164 > $2' : ''} ORDER BY e164 LIMIT $1`,
      after !== undefined ? [limit + 1, after] : [limit + 1],
    );
    return pageOf(
      r.rows,
      limit,
      (x) => ({ number: x.e164, route: x.route, updated_at: x.updated_at.toISOString() }),
      (x) => x.e164,
    );
  }

  /** PUT /v1/numbers/{e164}. */
  async putNumber(
    actor: Actor,
    e164: string,
    route: unknown,
  ): Promise<{ created: boolean; number: string; route: unknown }> {
    return inTransaction(this.pool, async (c) => {
      const { agents, numbers } = await this.state(c);
      const old = numbers.get(e164);
      numbers.set(e164, route);
      if (agents.size === 0) throw new ConfigInvalid(['agent: no agent exists yet: PUT /v1/agents/{id} first']);
      const parsed = this.validate(agents, numbers, { number: e164 });
      const stored = parsed.numbers[e164]!;
      if (old !== undefined && canonical(old) === canonical(stored))
        return { created: false, number: e164, route: old };
      await c.query(
        `INSERT INTO numbers (e164, route) VALUES ($1, $2) ON CONFLICT (e164) DO UPDATE SET route = EXCLUDED.route, updated_at = now()`,
        [e164, JSON.stringify(stored)],
      );
      await writeAudit(
        c,
        actor,
        old === undefined ? 'number.route' : 'number.reroute',
        `number:${e164}`,
        old ?? null,
        stored,
      );
      return { created: old === undefined, number: e164, route: stored };
    });
  }

  async deleteNumber(actor: Actor, e164: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK]);
      const r = await c.query<{ route: unknown }>('DELETE FROM numbers WHERE e164 = $1 RETURNING route', [e164]);
      if (!r.rows[0]) return false;
      await writeAudit(c, actor, 'number.unroute', `number:${e164}`, r.rows[0].route, null);
      return true;
    });
  }

  async bindings(db: Queryable, agentId: string): Promise<Binding[]> {
    const r = await db.query<{ tool_id: string; name: string; enabled: boolean; settings: Record<string, unknown> }>(
      'SELECT b.tool_id, t.name, b.enabled, b.settings FROM agent_tools b JOIN tools t ON t.id = b.tool_id WHERE b.agent_id = $1 ORDER BY t.name',
      [agentId],
    );
    return r.rows.map((x) => ({ tool_id: x.tool_id, tool: x.name, enabled: x.enabled, settings: x.settings }));
  }

  /** PUT /v1/agents/{id}/tools: replaces the agent's bindings; `tool` is a tool's id or name. Undefined: no such agent. */
  async putBindings(
    actor: Actor,
    agentId: string,
    wanted: { tool: string; enabled: boolean; settings: Record<string, unknown> }[],
  ): Promise<Binding[] | undefined> {
    return inTransaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [LOCK]);
      const a = await c.query('SELECT 1 FROM agents WHERE id = $1', [agentId]);
      if (!a.rowCount) return undefined;
      const before = await this.bindings(c, agentId);
      const problems: string[] = [];
      const resolved: { id: string; enabled: boolean; settings: Record<string, unknown> }[] = [];
      const seen = new Set<string>();
      for (const [i, w] of wanted.entries()) {
        const t = await c.query<{ id: string }>(
          isUuid(w.tool) ? 'SELECT id FROM tools WHERE id = $1' : 'SELECT id FROM tools WHERE name = $1',
          [w.tool],
        );
        const id = t.rows[0]?.id;
        if (!id) problems.push(`${i}.tool: no tool has this id or name`);
        else if (seen.has(id)) problems.push(`${i}.tool: the tool is bound twice`);
        else {
          seen.add(id);
          resolved.push({ id, enabled: w.enabled, settings: w.settings });
        }
      }
      if (problems.length) throw new ConfigInvalid(problems.map(maskForPage));
      const same = (x: { id: string; enabled: boolean; settings: unknown }[]) =>
        canonical([...x].sort((p, q) => p.id.localeCompare(q.id)));
      // nothing differs: nothing is written
      if (same(resolved) === same(before.map((b) => ({ id: b.tool_id, enabled: b.enabled, settings: b.settings }))))
        return before;
      await c.query('DELETE FROM agent_tools WHERE agent_id = $1', [agentId]);
      for (const b of resolved)
        await c.query('INSERT INTO agent_tools (agent_id, tool_id, enabled, settings) VALUES ($1, $2, $3, $4)', [
          agentId,
          b.id,
          b.enabled,
          JSON.stringify(b.settings),
        ]);
      const after = await this.bindings(c, agentId);
      if (canonical(before) !== canonical(after))
        await writeAudit(c, actor, 'agent.bindings', `agent:${agentId}`, before, after);
      return after;
    });
  }
}

/** The agents a number route sends calls to (directly, or by an IVR option or default). */
function agentsOf(route: unknown): string[] {
  const r = route as {
    agent?: string;
    ivr?: { options?: Record<string, { agent?: string }>; default?: { agent?: string } };
  };
  const out = [r.agent, ...Object.values(r.ivr?.options ?? {}).map((o) => o.agent), r.ivr?.default?.agent];
  return out.filter((x): x is string => typeof x === 'string');
}

export async function getSetting(db: Queryable, key: string): Promise<unknown> {
  const r = await db.query<{ value: unknown }>('SELECT value FROM config_settings WHERE key = $1', [key]);
  return r.rows[0]?.value;
}

/** Writes a setting when it differs; true when it wrote. */
export async function putSetting(db: Queryable, actor: Actor, key: string, value: unknown): Promise<boolean> {
  const old = await getSetting(db, key);
  if (old !== undefined && canonical(old) === canonical(value)) return false;
  await db.query(
    'INSERT INTO config_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()',
    [key, JSON.stringify(value)],
  );
  await writeAudit(db, actor, 'setting.update', `setting:${key}`, old ?? null, value);
  return true;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
