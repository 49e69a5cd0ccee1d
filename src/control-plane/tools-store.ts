import { randomBytes, randomUUID } from 'node:crypto';
import { writeAudit, type Actor } from './audit.js';
import { inTransaction, type Pool, type PoolClient, type Queryable } from './pool.js';
import { pageOf, type Page } from './pagination.js';
import type { SecretBox } from './secrets.js';
import { kindOf, type ToolBody, type ToolKind } from './tool-body.js';

/**
 * Tools in PostgreSQL. `upsert` is idempotent on `name`: a new name creates the tool with a
 * signing secret (returned this once); a known name updates it in place, keeping its id and its
 * signing secret, and writes nothing at all when nothing differs. A secret the body omits is kept
 * when the executor still uses it. Every write and its audit row share one transaction.
 */

export interface ToolView {
  id: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  side_effect: 'read' | 'action';
  timeout_ms: number;
  status: 'active' | 'disabled';
  kind: ToolKind;
  webhook?: Record<string, unknown>;
  module?: Record<string, unknown>;
  mcp?: Record<string, unknown>;
  /** a secret (webhook auth_secret, MCP token or client secret) is stored; it is never answered */
  has_auth_secret: boolean;
  /** until when the signing secret replaced by the last rotation still signs, or null */
  previous_signing_secret_until: string | null;
  created_at: string;
  updated_at: string;
}

interface Row {
  id: string;
  name: string;
  description: string;
  parameters: Record<string, unknown>;
  side_effect: 'read' | 'action';
  timeout_ms: number;
  kind: ToolKind;
  executor: Record<string, unknown>;
  auth_secret: string | null;
  signing_secret: string;
  previous_signing_secret: string | null;
  previous_signing_until: Date | null;
  status: 'active' | 'disabled';
  created_at: Date;
  updated_at: Date;
}

/** A body problem only the store can see (a secret the tool needs and neither the body nor the row has). */
export class ToolInputError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** SECRETS_KEY is not set: nothing that stores a secret can be written. */
export class SecretsKeyMissing extends Error {
  constructor() {
    super('SECRETS_KEY is not set: the control plane cannot store secrets (set SECRETS_KEY and restart)');
  }
}

export class ToolBound extends Error {
  constructor(readonly agents: string[]) {
    super('the tool is bound to agents');
  }
}

const DEFAULT_MCP_PARAMETERS = { type: 'object', properties: {} };

export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

const place = (column: string, id: string) => `tools.${column}:${id}`;

/** JSON with sorted keys: jsonb does not keep the order a body had. */
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

/** The executor without its secret, and the secret (undefined when the body gives none). */
function splitExecutor(b: ToolBody): { executor: Record<string, unknown>; secret?: string; needsSecret: boolean } {
  if (b.webhook) {
    const { auth_secret, ...rest } = b.webhook;
    return { executor: rest, secret: auth_secret, needsSecret: rest.auth_header !== undefined };
  }
  if (b.module) return { executor: { ...b.module }, needsSecret: false };
  const m = b.mcp!;
  const auth = { ...m.auth } as Record<string, unknown>;
  const secret = (auth.token ?? auth.client_secret) as string | undefined;
  delete auth.token;
  delete auth.client_secret;
  return { executor: { ...m, auth }, secret, needsSecret: auth.kind !== 'none' };
}

function view(r: Row): ToolView {
  const executor = r.kind === 'webhook' ? { ...r.executor, has_auth_secret: r.auth_secret !== null } : r.executor;
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    parameters: r.parameters,
    side_effect: r.side_effect,
    timeout_ms: r.timeout_ms,
    status: r.status,
    kind: r.kind,
    [r.kind]: executor,
    has_auth_secret: r.auth_secret !== null,
    previous_signing_secret_until:
      r.previous_signing_until && r.previous_signing_until.getTime() > Date.now()
        ? r.previous_signing_until.toISOString()
        : null,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
  };
}

/** The stored tool as a body (no secret): what PATCH merges its fields into. */
export function bodyOf(t: ToolView): Record<string, unknown> {
  const executor = { ...(t[t.kind] ?? {}) };
  delete executor.has_auth_secret;
  return {
    name: t.name,
    description: t.description,
    parameters: t.parameters,
    side_effect: t.side_effect,
    timeout_ms: t.timeout_ms,
    status: t.status,
    [t.kind]: executor,
  };
}

const COLUMNS =
  'id, name, description, parameters, side_effect, timeout_ms, kind, executor, auth_secret, signing_secret, previous_signing_secret, previous_signing_until, status, created_at, updated_at';

export class ToolStore {
  constructor(
    private readonly pool: Pool,
    private readonly box: SecretBox | undefined,
  ) {}

  private sealer(): SecretBox {
    if (!this.box) throw new SecretsKeyMissing();
    return this.box;
  }

  /** The clear value of a stored auth secret, or undefined when it does not open here. */
  private opens(sealed: string, id: string): string | undefined {
    try {
      return this.box?.open(sealed, place('auth_secret', id));
    } catch {
      return undefined;
    }
  }

  async get(id: string): Promise<ToolView | undefined> {
    if (!isUuid(id)) return undefined;
    const r = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM tools WHERE id = $1`, [id]);
    return r.rows[0] ? view(r.rows[0]) : undefined;
  }

  async list(db: Queryable, limit: number, afterName?: string, status?: string): Promise<Page<ToolView>> {
    const args: unknown[] = [limit + 1];
    const where: string[] = [];
    if (afterName !== undefined) where.push(`name > $${args.push(afterName)}`);
    if (status) where.push(`status = $${args.push(status)}`);
    const r = await db.query<Row>(
      `SELECT ${COLUMNS} FROM tools ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY name LIMIT $1`,
      args,
    );
    return pageOf(r.rows, limit, view, (x) => x.name);
  }

  /** POST /v1/tools */
  async upsert(actor: Actor, body: ToolBody): Promise<{ created: boolean; tool: ToolView; signing_secret?: string }> {
    return inTransaction(this.pool, async (c) => {
      // Two upserts of one new name at once: the second waits and updates what the first created.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`omni-phone-bridge:tool:${body.name}`]);
      const found = await c.query<Row>(`SELECT ${COLUMNS} FROM tools WHERE name = $1 FOR UPDATE`, [body.name]);
      const existing = found.rows[0];
      if (existing) return { created: false, tool: await this.update(c, actor, existing, body) };
      const box = this.sealer();
      const id = randomUUID();
      const { executor, secret, needsSecret } = splitExecutor(body);
      if (needsSecret && secret === undefined) throw missingSecret(body);
      const signing = newSigningSecret();
      const r = await c.query<Row>(
        `INSERT INTO tools (id, name, description, parameters, side_effect, timeout_ms, kind, executor, auth_secret, signing_secret, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
        [
          id,
          body.name,
          body.description,
          JSON.stringify(body.parameters ?? DEFAULT_MCP_PARAMETERS),
          body.side_effect,
          body.timeout_ms,
          kindOf(body),
          JSON.stringify(executor),
          secret === undefined ? null : box.seal(secret, place('auth_secret', id)),
          box.seal(signing, place('signing_secret', id)),
          body.status ?? 'active',
        ],
      );
      const tool = view(r.rows[0]!);
      await writeAudit(c, actor, 'tool.create', `tool:${id}`, null, tool);
      return { created: true, tool, signing_secret: signing };
    });
  }

  /** PATCH /v1/tools/{id}: `merge` makes the new body from the stored one (validated by the caller). */
  async patch(
    actor: Actor,
    id: string,
    merge: (current: ToolView) => ToolBody,
  ): Promise<{ tool: ToolView } | undefined> {
    if (!isUuid(id)) return undefined;
    return inTransaction(this.pool, async (c) => {
      const found = await c.query<Row>(`SELECT ${COLUMNS} FROM tools WHERE id = $1 FOR UPDATE`, [id]);
      const existing = found.rows[0];
      if (!existing) return undefined;
      return { tool: await this.update(c, actor, existing, merge(view(existing))) };
    });
  }

  private async update(c: PoolClient, actor: Actor, existing: Row, body: ToolBody): Promise<ToolView> {
    const kind = kindOf(body);
    const { executor, secret, needsSecret } = splitExecutor(body);
    // The stored secret stays while the executor still uses it the same way (same kind, same MCP auth kind).
    const keeps =
      existing.auth_secret !== null &&
      existing.kind === kind &&
      needsSecret &&
      (kind !== 'mcp' || authKind(existing.executor) === authKind(executor));
    let authSecret: string | null = null;
    // the secret already stored, given again (an import of the same file): nothing to change
    const sameSecret = secret !== undefined && keeps && this.opens(existing.auth_secret!, existing.id) === secret;
    if (sameSecret) authSecret = existing.auth_secret;
    else if (secret !== undefined) authSecret = this.sealer().seal(secret, place('auth_secret', existing.id));
    else if (keeps) authSecret = existing.auth_secret;
    else if (needsSecret) throw missingSecret(body);
    const next = {
      description: body.description,
      parameters: body.parameters ?? DEFAULT_MCP_PARAMETERS,
      side_effect: body.side_effect,
      timeout_ms: body.timeout_ms,
      kind,
      executor,
      status: body.status ?? existing.status,
    };
    const same =
      canonical(next) ===
        canonical({
          description: existing.description,
          parameters: existing.parameters,
          side_effect: existing.side_effect,
          timeout_ms: existing.timeout_ms,
          kind: existing.kind,
          executor: existing.executor,
          status: existing.status,
        }) && authSecret === existing.auth_secret;
    if (same) return view(existing);
    const r = await c.query<Row>(
      `UPDATE tools SET description = $2, parameters = $3, side_effect = $4, timeout_ms = $5, kind = $6, executor = $7,
         auth_secret = $8, status = $9, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [
        existing.id,
        next.description,
        JSON.stringify(next.parameters),
        next.side_effect,
        next.timeout_ms,
        next.kind,
        JSON.stringify(next.executor),
        authSecret,
        next.status,
      ],
    );
    const tool = view(r.rows[0]!);
    await writeAudit(c, actor, 'tool.update', `tool:${existing.id}`, view(existing), tool);
    return tool;
  }

  /** DELETE /v1/tools/{id}: refused (ToolBound) while an agent binds it, unless forced. */
  async remove(actor: Actor, id: string, force: boolean): Promise<ToolView | undefined> {
    if (!isUuid(id)) return undefined;
    return inTransaction(this.pool, async (c) => {
      const found = await c.query<Row>(`SELECT ${COLUMNS} FROM tools WHERE id = $1 FOR UPDATE`, [id]);
      const existing = found.rows[0];
      if (!existing) return undefined;
      const bound = await c.query<{ agent_id: string }>(
        'SELECT agent_id FROM agent_tools WHERE tool_id = $1 ORDER BY agent_id',
        [id],
      );
      const agents = bound.rows.map((b) => b.agent_id);
      if (agents.length && !force) throw new ToolBound(agents);
      await c.query('DELETE FROM tools WHERE id = $1', [id]);
      const before = view(existing);
      await writeAudit(
        c,
        actor,
        force && agents.length ? 'tool.delete_forced' : 'tool.delete',
        `tool:${id}`,
        before,
        null,
      );
      return before;
    });
  }

  /**
   * POST /v1/tools/{id}/rotate-secret: a new signing secret (returned this once); the replaced one
   * keeps signing beside it for `graceS` seconds, so receivers can switch without a refused delivery.
   */
  async rotateSigningSecret(
    actor: Actor,
    id: string,
    graceS: number,
  ): Promise<{ tool: ToolView; signing_secret: string } | undefined> {
    if (!isUuid(id)) return undefined;
    const box = this.sealer();
    return inTransaction(this.pool, async (c) => {
      const found = await c.query<Row>(`SELECT ${COLUMNS} FROM tools WHERE id = $1 FOR UPDATE`, [id]);
      const existing = found.rows[0];
      if (!existing) return undefined;
      const old = box.open(existing.signing_secret, place('signing_secret', id));
      const signing = newSigningSecret();
      const r = await c.query<Row>(
        `UPDATE tools SET signing_secret = $2, previous_signing_secret = $3,
           previous_signing_until = now() + make_interval(secs => $4), updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [
          id,
          box.seal(signing, place('signing_secret', id)),
          graceS > 0 ? box.seal(old, place('previous_signing_secret', id)) : null,
          graceS,
        ],
      );
      const tool = view(r.rows[0]!);
      await writeAudit(c, actor, 'tool.rotate_secret', `tool:${id}`, view(existing), tool);
      return { tool, signing_secret: signing };
    });
  }
}

function missingSecret(b: ToolBody): ToolInputError {
  return b.webhook
    ? new ToolInputError('webhook.auth_secret', 'is required with auth_header (none is stored for this tool)')
    : new ToolInputError(
        b.mcp?.auth.kind === 'bearer' ? 'mcp.auth.token' : 'mcp.auth.client_secret',
        'is required for this auth kind (none is stored for this tool)',
      );
}

function authKind(executor: Record<string, unknown>): string | undefined {
  return (executor.auth as { kind?: string } | undefined)?.kind;
}

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}
