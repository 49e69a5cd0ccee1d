import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { configFileSchema } from '../config/schema.js';
import { issueLines, strictKeysErrorMap } from '../config/suggest.js';
import { maskForPage } from '../observability/redact.js';
import { bindingsBody } from './api-agents.js';
import type { Actor } from './audit.js';
import { getSetting, putSetting } from './config-store.js';
import type { ControlPlane } from './control-plane.js';
import { toolBodySchema, type ToolBody } from './tool-body.js';
import { bodyOf, type ToolView } from './tools-store.js';
import { blockedUrl } from './url-policy.js';

/**
 * `config export` and `config import`: the database as one document a team keeps in git. The
 * document is the file's schema (default_agent, agents, numbers) plus top-level `tools:` (the
 * API's tool bodies) and per-agent `bindings:`. Export is deterministic (sorted, no timestamps, no
 * ids) and holds no secret: `has_auth_secret: true` stands where one is stored. Import makes the
 * database equal to the document, keeps a stored secret the document omits, writes nothing when
 * nothing differs, and ignores `bridge:` (it stays BRIDGE_CONFIG's), saying so.
 */

export const IMPORT_ACTOR: Actor = { id: null, name: 'config import' };

export class ImportInvalid extends Error {
  constructor(readonly issues: string[]) {
    super(`the document is invalid:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

async function all<T>(
  page: (cursor?: string) => Promise<{ items: T[]; next_cursor: string | null }>,
  key: (t: T) => string,
): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const p = await page(after);
    out.push(...p.items);
    if (!p.next_cursor || p.items.length === 0) return out;
    after = key(p.items[p.items.length - 1]!);
  }
}

/** A tool as the document holds it: its body, `has_auth_secret: true` in place of its secret. */
function exportedTool(t: ToolView): Record<string, unknown> {
  const body = bodyOf(t);
  const ex = body[t.kind] as Record<string, unknown>;
  if (t.has_auth_secret) {
    if (t.kind === 'mcp') ex.auth = { ...(ex.auth as object), has_auth_secret: true };
    else ex.has_auth_secret = true;
  }
  return body;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}

export async function exportConfig(cp: ControlPlane): Promise<string> {
  const tools = await all(
    (c) => cp.tools.list(cp.pool, 500, c),
    (t) => t.name,
  );
  const agents = await all(
    (c) => cp.config.listAgents(cp.pool, 500, c),
    (a) => a.id,
  );
  const numbers = await all(
    (c) => cp.config.listNumbers(cp.pool, 500, c),
    (n) => n.number,
  );
  const outAgents = [];
  for (const a of agents) {
    const { created_at: _c, updated_at: _u, ...agent } = a;
    void _c;
    void _u;
    const bindings = (await cp.config.bindings(cp.pool, a.id)).map((b) => ({
      tool: b.tool,
      enabled: b.enabled,
      settings: b.settings,
    }));
    outAgents.push({ ...agent, bindings });
  }
  const def = (await getSetting(cp.pool, 'default_agent')) ?? agents[0]?.id;
  const doc = {
    default_agent: def,
    agents: outAgents,
    numbers: Object.fromEntries(numbers.map((n) => [n.number, n.route])),
    tools: tools.map(exportedTool),
  };
  return toYaml(sortKeys(doc), { lineWidth: 0 });
}

const bindingsOf = z.object({ bindings: bindingsBody.default([]) }).loose();

interface Parsed {
  file: z.output<typeof configFileSchema>;
  tools: ToolBody[];
  bindings: Map<string, z.output<typeof bindingsBody>>;
  ignoredBridge: boolean;
}

/** Validates the whole document before anything is written. */
export function parseImport(text: string, allowHosts: ReadonlySet<string>): Parsed {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ImportInvalid([`(root): not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ImportInvalid(['(root): a mapping is expected']);
  const { tools: rawTools = [], bridge, ...rest } = raw as Record<string, unknown>;
  const issues: string[] = [];
  const bindings = new Map<string, z.output<typeof bindingsBody>>();
  const agents = Array.isArray(rest.agents) ? (rest.agents as unknown[]) : [];
  rest.agents = agents.map((a, i) => {
    if (!a || typeof a !== 'object') return a;
    const { bindings: b, ...agent } = a as Record<string, unknown>;
    const r = bindingsOf.safeParse({ bindings: b }, { error: strictKeysErrorMap });
    if (!r.success) issues.push(...issueLines(r.error.issues, ['agents', i]));
    else bindings.set(String(agent.id), r.data.bindings);
    return agent;
  });
  const file = configFileSchema.safeParse(rest, { error: strictKeysErrorMap });
  if (!file.success) issues.push(...issueLines(file.error.issues));
  const tools: ToolBody[] = [];
  if (!Array.isArray(rawTools)) issues.push('tools: a list is expected');
  else
    rawTools.forEach((t, i) => {
      const body = stripHasSecret(t);
      const r = toolBodySchema.safeParse(body, { error: strictKeysErrorMap });
      if (!r.success) return issues.push(...issueLines(r.error.issues, ['tools', i]));
      const url = r.data.webhook?.url ?? r.data.mcp?.url;
      const blocked = url
        ? blockedUrl(url, allowHosts, `tools.${i}.${r.data.webhook ? 'webhook' : 'mcp'}.url`)
        : undefined;
      if (blocked) issues.push(blocked.message);
      tools.push(r.data);
    });
  const names = new Set(tools.map((t) => t.name));
  if (names.size !== tools.length) issues.push('tools: tool names must be unique');
  for (const [agent, list] of bindings)
    list.forEach((b, j) => {
      if (!names.has(b.tool))
        issues.push(`agents.${agent}.bindings.${j}.tool: no tool of the document is named "${b.tool}"`);
    });
  if (issues.length || !file.success) throw new ImportInvalid(issues.slice(0, 30).map(maskForPage));
  return { file: file.data, tools, bindings, ignoredBridge: bridge !== undefined };
}

/** `has_auth_secret` is export's marker of a kept secret: not part of a body. */
function stripHasSecret(t: unknown): unknown {
  if (!t || typeof t !== 'object') return t;
  const out = { ...(t as Record<string, unknown>) };
  for (const k of ['webhook', 'mcp']) {
    const ex = out[k];
    if (ex && typeof ex === 'object') {
      const e = { ...(ex as Record<string, unknown>) };
      delete e.has_auth_secret;
      if (e.auth && typeof e.auth === 'object') {
        const a = { ...(e.auth as Record<string, unknown>) };
        delete a.has_auth_secret;
        e.auth = a;
      }
      out[k] = e;
    }
  }
  return out;
}

export interface ImportSummary {
  changes: number;
  ignoredBridge: boolean;
}

/** Makes the database equal to the document (already validated by parseImport). */
export async function importConfig(cp: ControlPlane, doc: Parsed): Promise<ImportSummary> {
  const auditCount = async () =>
    Number((await cp.pool.query<{ n: string }>('SELECT count(*) AS n FROM audit')).rows[0]!.n);
  const before = await auditCount();
  for (const t of doc.tools) await cp.tools.upsert(IMPORT_ACTOR, t);
  for (const a of doc.file.agents) {
    const { id, ...body } = a;
    await cp.config.putAgent(IMPORT_ACTOR, id, body);
  }
  const numbers = await all(
    (c) => cp.config.listNumbers(cp.pool, 500, c),
    (n) => n.number,
  );
  for (const n of numbers) if (!(n.number in doc.file.numbers)) await cp.config.deleteNumber(IMPORT_ACTOR, n.number);
  for (const [n, route] of Object.entries(doc.file.numbers)) await cp.config.putNumber(IMPORT_ACTOR, n, route);
  const ids = new Set(doc.file.agents.map((a) => a.id));
  const agents = await all(
    (c) => cp.config.listAgents(cp.pool, 500, c),
    (a) => a.id,
  );
  for (const a of agents) if (!ids.has(a.id)) await cp.config.deleteAgent(IMPORT_ACTOR, a.id);
  for (const a of doc.file.agents) await cp.config.putBindings(IMPORT_ACTOR, a.id, doc.bindings.get(a.id) ?? []);
  const names = new Set(doc.tools.map((t) => t.name));
  const tools = await all(
    (c) => cp.tools.list(cp.pool, 500, c),
    (t) => t.name,
  );
  for (const t of tools) if (!names.has(t.name)) await cp.tools.remove(IMPORT_ACTOR, t.id, true);
  await putSetting(cp.pool, IMPORT_ACTOR, 'default_agent', doc.file.default_agent);
  // every write is exactly one audit row: their count is the number of changes
  return { changes: (await auditCount()) - before, ignoredBridge: doc.ignoredBridge };
}
