import { isToolExecutionError } from '../errors.js';
import type { McpAuthConfig } from './schema.js';

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Longest wait for the token endpoint. */
const TOKEN_TIMEOUT_MS = 5000;
/** A token is renewed this long before it expires (or at 90 % of a shorter lifetime). */
const REFRESH_EARLY_MS = 30_000;
/** Lifetime assumed when the token endpoint names none. */
const DEFAULT_LIFETIME_S = 300;
const TOKEN = /^[\x21-\x7e]{1,8192}$/;

/**
 * The Authorization header of one MCP server: nothing, a bearer secret from the environment, or
 * an OAuth 2 client-credentials token fetched from `token_url` (under the same SSRF policy, through
 * the same guarded fetch), cached until shortly before it expires and renewed once on a 401.
 * Secrets and tokens are never put in an error message or a log line.
 */
export interface McpAuth {
  /** Value of the Authorization header, or undefined for none. */
  header(): Promise<string | undefined>;
  /** The server answered 401 with `used`: forget it; true when a fresh one is worth one retry. */
  invalidate(used: string | undefined): boolean;
  /** Every secret value this auth holds or obtained, for scrubbing. Never log this. */
  secrets(): string[];
}

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

export function createAuth(
  cfg: McpAuthConfig,
  env: NodeJS.ProcessEnv,
  tokenFetch: Fetch | undefined,
  now: () => number = Date.now,
): McpAuth {
  if (cfg.kind === 'none') return { header: async () => undefined, invalidate: () => false, secrets: () => [] };
  if (cfg.kind === 'bearer') {
    const secret = env[cfg.secret_env] ?? '';
    return { header: async () => `Bearer ${secret}`, invalidate: () => false, secrets: () => [secret] };
  }
  const clientId = env[cfg.client_id_env] ?? '';
  const clientSecret = env[cfg.client_secret_env] ?? '';
  const seen: string[] = [clientSecret];
  let token: { value: string; renewAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const fetchToken = async (): Promise<string> => {
    if (!tokenFetch) throw new AuthError('no token fetch');
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (cfg.scope) body.set('scope', cfg.scope);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    let res: Response;
    try {
      res = await tokenFetch(cfg.token_url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${basic}`,
        },
        body: body.toString(),
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (err) {
      if (isToolExecutionError(err) && err.outcome === 'blocked_url')
        throw new AuthError(`token endpoint refused by the SSRF policy: ${String(err.output.message)}`);
      const code = (err as { code?: unknown }).code;
      throw new AuthError(
        `token endpoint unreachable${typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? ` (${code})` : ''}`,
      );
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    // The body is never quoted: an error answer may echo the credentials.
    if (!res.ok) throw new AuthError(`token endpoint answered HTTP ${res.status}`);
    const t = json as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (typeof t?.access_token !== 'string' || !TOKEN.test(t.access_token))
      throw new AuthError('token endpoint answered without a usable access_token');
    const lifetimeMs =
      (typeof t.expires_in === 'number' && t.expires_in > 0 ? Math.min(t.expires_in, 86400) : DEFAULT_LIFETIME_S) *
      1000;
    const early = Math.min(REFRESH_EARLY_MS, lifetimeMs * 0.1);
    token = { value: t.access_token, renewAt: now() + lifetimeMs - early };
    seen.push(t.access_token);
    if (seen.length > 8) seen.splice(1, seen.length - 8);
    return t.access_token;
  };

  return {
    async header() {
      if (token && now() < token.renewAt) return `Bearer ${token.value}`;
      // One token request at a time: concurrent calls share it.
      pending ??= fetchToken().finally(() => {
        pending = undefined;
      });
      return `Bearer ${await pending}`;
    },
    invalidate(used) {
      // Another request may already have renewed it: then the retry simply uses the new one.
      if (token && used === `Bearer ${token.value}`) token = undefined;
      return used !== undefined;
    },
    secrets: () => seen.filter((s) => s.length > 0),
  };
}

/**
 * Adds the Authorization header to every request; on a 401, when the auth can renew (OAuth), the
 * request is sent once more with a fresh token. Bodies from the SDK are strings, so they resend.
 */
export function withAuth(base: Fetch, auth: McpAuth): Fetch {
  return async (url, init) => {
    const send = async (): Promise<{ res: Response; used: string | undefined }> => {
      const used = await auth.header();
      const headers = new Headers(init?.headers);
      if (used) headers.set('authorization', used);
      return { res: await base(url, { ...init, headers }), used };
    };
    const first = await send();
    if (first.res.status !== 401 || !auth.invalidate(first.used)) return first.res;
    await first.res.body?.cancel().catch(() => undefined);
    return (await send()).res;
  };
}
