/**
 * What the console asks of the control plane's API keys (DATABASE_URL), so that a supervisor signs
 * in with their own key: the control plane verifies it (src/control-plane/console-keys.ts: the
 * same verification as /v1), says which keys are still in force, and audits an action under the
 * key's name and id. The console holds only this interface: it imports nothing of the control plane.
 */
import type { ConsoleRole } from './auth.js';

export interface ConsoleKey {
  /** the key's id (the audit's, and what a revocation names) */
  id: string;
  name: string;
  role: ConsoleRole;
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
