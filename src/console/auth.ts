import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';

/** Compares two strings in constant time for their length (hashed first: lengths do not leak either). */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface ConsoleSession {
  id: string;
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

  constructor(
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  create(): ConsoleSession {
    const s: ConsoleSession = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      expires: this.now() + this.ttlMs,
    };
    this.sessions.set(s.id, s);
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    return s;
  }

  get(id: string | undefined): ConsoleSession | undefined {
    if (!id || id.length > 100) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expires <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }
}

/**
 * Failed logins, per client address and in total, over a sliding minute: past the limit every
 * login is refused (429) until the window moves on, so the token cannot be guessed online.
 */
export class LoginLimiter {
  private readonly perIp = new Map<string, number[]>();
  private all: number[] = [];

  constructor(
    private readonly maxPerIp = 5,
    private readonly maxTotal = 30,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(list: number[] | undefined): number[] {
    const since = this.now() - this.windowMs;
    return (list ?? []).filter((t) => t > since);
  }

  blocked(ip: string): boolean {
    this.all = this.recent(this.all);
    return this.recent(this.perIp.get(ip)).length >= this.maxPerIp || this.all.length >= this.maxTotal;
  }

  failed(ip: string): void {
    const t = this.now();
    this.perIp.set(ip, [...this.recent(this.perIp.get(ip)), t]);
    this.all.push(t);
    if (this.perIp.size > 10_000) this.perIp.delete(this.perIp.keys().next().value!);
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
