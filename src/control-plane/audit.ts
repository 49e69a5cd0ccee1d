import { notifyConfigChange } from './change-feed.js';
import type { Queryable } from './pool.js';
import { pageOf, type Page } from './pagination.js';

/**
 * The audit trail: one row for every write through the API (and, later, every operator action),
 * written in the write's own transaction, so a change and its row exist together or not at all.
 * Refused requests are counted (metrics), not audited. Before and after are masked once more
 * here, whatever the caller passed: a field named like a secret never reaches the table.
 */

export interface Actor {
  id: string | null;
  name: string;
}

export interface AuditRow {
  id: string;
  at: string;
  key: { id: string | null; name: string };
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

const SECRET_FIELD = /secret|token|password|authorization|api_key|private_key/i;

/** A copy with every string under a secret-like field name replaced by "***" (booleans like has_auth_secret stay). */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && typeof v === 'string' ? '***' : maskSecrets(v);
  }
  return out;
}

export async function writeAudit(
  db: Queryable,
  actor: Actor,
  action: string,
  target: string,
  before: unknown,
  after: unknown,
): Promise<void> {
  await db.query(
    'INSERT INTO audit (key_id, key_name, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6)',
    [
      actor.id,
      actor.name,
      action,
      target,
      before === undefined ? null : JSON.stringify(maskSecrets(before)),
      after === undefined ? null : JSON.stringify(maskSecrets(after)),
    ],
  );
  // a change of what calls run from reaches every replica when this transaction commits
  await notifyConfigChange(db, action);
}

interface Row {
  id: string;
  at: Date;
  key_id: string | null;
  key_name: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  limit: number;
  /** rows older than this id (the cursor) */
  beforeId?: number;
  action?: string;
  target?: string;
}

/** Newest first. */
export async function listAudit(db: Queryable, f: AuditFilter): Promise<Page<AuditRow>> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.beforeId !== undefined) where.push(`id < $${args.push(f.beforeId)}`);
  if (f.action) where.push(`action = $${args.push(f.action)}`);
  if (f.target) where.push(`target = $${args.push(f.target)}`);
  const r = await db.query<Row>(
    `SELECT id, at, key_id, key_name, action, target, before, after FROM audit
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.push(f.limit + 1)}`,
    args,
  );
  return pageOf(
    r.rows,
    f.limit,
    (x) => ({
      id: String(x.id),
      at: x.at.toISOString(),
      key: { id: x.key_id, name: x.key_name },
      action: x.action,
      target: x.target,
      before: x.before,
      after: x.after,
    }),
    (x) => Number(x.id),
  );
}
