/**
 * Who is signed in to the console and what they may do. Without DATABASE_URL the one way in is
 * ADMIN_TOKEN (an admin session). With it, any API key in force signs in, verified by the control
 * plane (keys.ts), and the session has the key's role: a viewer watches, an operator also acts on
 * calls and listens in, an admin also reloads the configuration. A revocable key's session ends
 * when the key is revoked: at the replica's next request under it, and at once on hearing the
 * revocation (its event streams and listen sockets close with it).
 */
import { sameSecret, type ConsoleRole, type ConsoleSession, type ConsoleSessions } from './auth.js';
import type { ConsoleKeys } from '../control-plane/console-keys.js';

/**
 * The role a console request needs: reads a session only, signing out nothing more, reloading
 * admin, and any other state-changing request operator (named or not: a path spelled another way
 * or a route added later is not left open to a viewer).
 */
export function roleNeeded(method: string, path: string): ConsoleRole | undefined {
  if (method === 'GET' || method === 'HEAD') return undefined;
  if (path === '/console/logout') return undefined;
  if (path === '/console/api/config/reload') return 'admin';
  return 'operator';
}

export type SignIn = Pick<ConsoleSession, 'role' | 'actor' | 'key'>;

/** The session a token opens, undefined for a wrong one; 'unavailable' when the database does not answer. */
export async function signIn(
  token: string,
  adminToken: string | undefined,
  keys: ConsoleKeys | undefined,
): Promise<SignIn | undefined | 'unavailable'> {
  if (!keys) return adminToken && sameSecret(token, adminToken) ? { role: 'admin', actor: 'admin token' } : undefined;
  let k;
  try {
    // ADMIN_TOKEN is the bootstrap key: checked in memory first, without the database
    k = await keys.authenticate(token);
  } catch {
    return 'unavailable';
  }
  if (!k) return undefined;
  return {
    role: k.role,
    actor: k.revocable ? k.name : 'admin token',
    key: { id: k.id, name: k.name, revocable: k.revocable },
  };
}

/** Whether a session's key is still in force (true for ADMIN_TOKEN's); throws when the database does not answer. */
export async function stillInForce(s: ConsoleSession, keys: ConsoleKeys | undefined): Promise<boolean> {
  if (!s.key?.revocable || !keys) return true;
  return (await keys.inForce([s.key.id])).has(s.key.id);
}

/**
 * Ends the sessions of a revoked key (its id, as the change feed heard it), or, with no id (the
 * feed reconnected and may have missed one), of every key no longer in force.
 */
export async function endRevoked(
  sessions: ConsoleSessions,
  keys: ConsoleKeys,
  keyId: string | undefined,
): Promise<void> {
  if (keyId !== undefined) return sessions.endKeys((k) => k === keyId);
  const ids = sessions.keyIds();
  if (ids.length === 0) return;
  const live = await keys.inForce(ids);
  sessions.endKeys((k) => !live.has(k));
}
