import type { ConsoleKeys } from '../console/keys.js';
import { writeAudit } from './audit.js';
import { BOOTSTRAP_KEY_NAME, type KeyStore } from './keys.js';
import type { Queryable } from './pool.js';

/** The console's sign-in with API keys: the /v1 verification itself (KeyStore), no second one. */
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
