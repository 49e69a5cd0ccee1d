/**
 * What the console asks of the control plane's API keys (DATABASE_URL), so that a supervisor signs
 * in with their own key: the key verified by KeyStore itself (the /v1 verification, no second
 * one), which keys are still in force, and an action audited under the key's name and id.
 */
import { writeAudit } from './audit.js';
import { BOOTSTRAP_KEY_NAME, type KeyStore, type Role } from './keys.js';
import type { Queryable } from './pool.js';

export interface ConsoleKey {
  /** the key's id (the audit's, and what a revocation names) */
  id: string;
  name: string;
  role: Role;
  /** false for the bootstrap key (ADMIN_TOKEN): it is replaced at start-up, never revoked */
  revocable: boolean;
}

export interface ConsoleKeys {
  /** the key in force for a secret, or undefined; throws when the database does not answer */
  authenticate(secret: string): Promise<ConsoleKey | undefined>;
  /** which of `ids` are still in force; throws when the database does not answer */
  inForce(ids: readonly string[]): Promise<Set<string>>;
  /** an accepted action as an audit row under the key's id and name */
  audit(key: { id: string; name: string }, action: string, target: string, after: unknown): Promise<void>;
}

export function consoleKeys(keys: KeyStore, db: Queryable): ConsoleKeys {
  return {
    async authenticate(secret) {
      const k = await keys.authenticate(secret);
      return k && { id: k.id, name: k.name, role: k.role, revocable: k.name !== BOOTSTRAP_KEY_NAME };
    },
    inForce: (ids) => keys.inForce(ids),
    audit: (key, action, target, after) => writeAudit(db, key, action, target, null, after),
  };
}
