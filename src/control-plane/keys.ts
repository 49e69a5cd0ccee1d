import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { roleAllows, ROLES, type Role } from '../server/security/roles.js';
import { sameSecret } from '../server/security/same-secret.js';
import { writeAudit, type Actor } from './audit.js';
import { notifyKeyRevoked } from './change-feed.js';
import { inTransaction, type Pool, type Queryable } from './pool.js';
import { pageOf, type Page } from './pagination.js';

/**
 * API keys: `Authorization: Bearer <secret>`. A key's secret is shown once, when it is created;
 * the table keeps only its SHA-256 (the secret is 256 random bits: no salt or slow hash is needed
 * against guessing, and a lookup by hash is one index probe). ADMIN_TOKEN is the key named
 * `bootstrap`, with the admin role: its row is refreshed at start-up (a changed ADMIN_TOKEN
 * replaces the old one; none revokes it), and it is checked in memory first, so the operator's
 * own key works with no database round trip.
 */

export { ROLES, type Role };
export const BOOTSTRAP_KEY_NAME = 'bootstrap';

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
}

export interface ApiKeyView extends ApiKey {
  created_at: string;
}

/** one ordering of the roles for /v1 and the console (server/security/roles.ts) */
export { roleAllows };

export function hashKeySecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** `opb_` and 256 random bits, base64url: recognisable in a leak scanner, 47 characters. */
export function newKeySecret(): string {
  return `opb_${randomBytes(32).toString('base64url')}`;
}

export class KeyNameTaken extends Error {}

interface Row {
  id: string;
  name: string;
  role: Role;
  created_at: Date;
}

const view = (r: Row): ApiKeyView => ({ id: r.id, name: r.name, role: r.role, created_at: r.created_at.toISOString() });

export class KeyStore {
  private bootstrap: ApiKey | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly adminToken: string | undefined,
  ) {}

  /** Start-up: the bootstrap key's row follows ADMIN_TOKEN (one replica at a time). */
  async syncBootstrap(): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('omni-phone-bridge:bootstrap-key'))");
      const live = await c.query<Row>(
        'SELECT id, name, role, created_at FROM api_keys WHERE name = $1 AND revoked_at IS NULL',
        [BOOTSTRAP_KEY_NAME],
      );
      const row = live.rows[0];
      if (!this.adminToken) {
        if (row) await c.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [row.id]);
        this.bootstrap = undefined;
        return;
      }
      const hash = hashKeySecret(this.adminToken);
      if (row) {
        await c.query("UPDATE api_keys SET secret_hash = $2, role = 'admin' WHERE id = $1 AND secret_hash <> $2", [
          row.id,
          hash,
        ]);
        this.bootstrap = { id: row.id, name: BOOTSTRAP_KEY_NAME, role: 'admin' };
      } else {
        const id = randomUUID();
        await c.query("INSERT INTO api_keys (id, name, role, secret_hash) VALUES ($1, $2, 'admin', $3)", [
          id,
          BOOTSTRAP_KEY_NAME,
          hash,
        ]);
        this.bootstrap = { id, name: BOOTSTRAP_KEY_NAME, role: 'admin' };
      }
    });
  }

  /** The key in force for a bearer secret, or undefined. A database error throws (the caller answers 503). */
  async authenticate(secret: string): Promise<ApiKey | undefined> {
    if (this.bootstrap && this.adminToken && sameSecret(secret, this.adminToken)) return this.bootstrap;
    const r = await this.pool.query<Row>(
      'SELECT id, name, role FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL',
      [hashKeySecret(secret)],
    );
    const row = r.rows[0];
    return row ? { id: row.id, name: row.name, role: row.role } : undefined;
  }

  /** Which of `ids` are keys still in force (a console session's key is checked at every request). */
  async inForce(ids: readonly string[]): Promise<Set<string>> {
    const valid = ids.filter((id) => /^[0-9a-f-]{36}$/i.test(id));
    if (valid.length === 0) return new Set();
    const r = await this.pool.query<{ id: string }>(
      'SELECT id FROM api_keys WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL',
      [valid],
    );
    return new Set(r.rows.map((x) => x.id));
  }

  async create(actor: Actor, name: string, role: Role): Promise<ApiKey & { secret: string }> {
    if (name === BOOTSTRAP_KEY_NAME) throw new KeyNameTaken();
    const secret = newKeySecret();
    const id = randomUUID();
    try {
      await inTransaction(this.pool, async (c) => {
        await c.query('INSERT INTO api_keys (id, name, role, secret_hash) VALUES ($1, $2, $3, $4)', [
          id,
          name,
          role,
          hashKeySecret(secret),
        ]);
        await writeAudit(c, actor, 'key.create', `key:${id}`, null, { id, name, role });
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new KeyNameTaken();
      throw err;
    }
    return { id, name, role, secret };
  }

  /** Revokes a key in force: refused from the moment this resolves. Undefined when there is none with that id. */
  async revoke(actor: Actor, id: string): Promise<(ApiKeyView & { revoked_at: string }) | 'bootstrap' | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<Row & { revoked_at: Date }>(
        'SELECT id, name, role, created_at FROM api_keys WHERE id = $1 AND revoked_at IS NULL FOR UPDATE',
        [id],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      if (row.name === BOOTSTRAP_KEY_NAME) return 'bootstrap';
      const u = await c.query<{ revoked_at: Date }>(
        'UPDATE api_keys SET revoked_at = now() WHERE id = $1 RETURNING revoked_at',
        [id],
      );
      const before = view(row);
      await writeAudit(c, actor, 'key.revoke', `key:${id}`, before, null);
      // every replica ends this key's console sessions when the revocation commits
      await notifyKeyRevoked(c, id);
      return { ...before, revoked_at: u.rows[0]!.revoked_at.toISOString() };
    });
  }

  /** The keys in force, by name. */
  async list(db: Queryable, limit: number, afterName?: string): Promise<Page<ApiKeyView>> {
    const r = await db.query<Row>(
      `SELECT id, name, role, created_at FROM api_keys WHERE revoked_at IS NULL ${afterName !== undefined ? 'AND name > $2' : ''}
       ORDER BY name LIMIT $1`,
      afterName !== undefined ? [limit + 1, afterName] : [limit + 1],
    );
    return pageOf(r.rows, limit, view, (x) => x.name);
  }
}
