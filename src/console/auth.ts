import { randomBytes } from 'node:crypto';
import type { Role } from '../server/security/roles.js';
import { sameSecret } from '../server/security/same-secret.js';

export { sameSecret };

/** What a console session may do: a viewer watches; an operator also acts and listens in (admin: all). */
export type ConsoleRole = Role;

export interface ConsoleSession {
  id: string;
  role: ConsoleRole;
  /** who signed in, as records and timelines name them: 'admin token', or a control-plane key's name */
  actor: string;
  /**
   * the control-plane key signed in with (DATABASE_URL): its id and name for the audit, never its
   * secret; a revocable one is checked at every request and its sessions end when it is revoked
   */
  key?: { id: string; name: string; revocable: boolean };
  /** sent by the page with every state-changing request (header x-csrf-token) */
  csrf: string;
  expires: number;
}

export const SESSION_COOKIE = 'opb_console';
const SESSION_TTL_MS = 8 * 3600_000;
const MAX_SESSIONS = 200;

/**
 * Server-side console sessions: a random id in an HttpOnly cookie maps to an expiry and a CSRF
 * token. Bounded in number (the oldest goes first); expired ones are refused and dropped.
 */
export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  /** told of every session that ends: logout, expiry, or eviction past MAX_SESSIONS */
  onEnd?: (id: string) => void;

  constructor(
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  create(role: ConsoleRole = 'admin', actor = 'admin token', key?: ConsoleSession['key']): ConsoleSession {
    const s: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      role,
      actor,
      ...(key ? { key } : {}),
      csrf: randomBytes(32).toString('base64url'),
      expires: this.now() + this.ttlMs,
    };
    this.sessions.set(s.id, s);
    while (this.sessions.size > MAX_SESSIONS) this.end(this.sessions.keys().next().value);
    return s;
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (!id || id.length > 100) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expires <= this.now()) {
      this.end(id);
      return undefined;
    }
    return s;
  }

  /** The revocable keys that have sessions now. */
  keyIds(): string[] {
    return [...new Set([...this.sessions.values()].flatMap((s) => (s.key?.revocable ? [s.key.id] : [])))];
  }

  /** Ends the sessions of every key `revoked` says is no longer in force. */
  endKeys(revoked: (keyId: string) => boolean): void {
    for (const s of [...this.sessions.values()]) if (s.key?.revocable && revoked(s.key.id)) this.end(s.id);
  }

  end(id: string | undefined): void {
    if (id && this.sessions.delete(id)) this.onEnd?.(id);
  }
}

/** The value of one cookie in a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
