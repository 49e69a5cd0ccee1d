import type { FastifyReply, FastifyRequest } from 'fastify';
import { bearerOf } from '../server/routes/admin.js';
import { QuietLog, retryAfterSeconds, SourceBackoff } from '../server/security/source-backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from './audit.js';
import { roleAllows, type ApiKey, type KeyStore, type Role } from './keys.js';

/**
 * Who may call a /v1 route: `Authorization: Bearer <key>`, a key in force whose role covers the
 * route's (viewer < operator < admin). A wrong or missing key is 401, a right key of too small a
 * role 403; both are counted per source, and a source with more than 30 refusals in a minute
 * gets 429 for the rest of that minute. A valid key is never answered 429: the key is checked
 * first, and the count only decides what a wrong one hears.
 */

export const REFUSALS_PER_MINUTE = 30;

/** 401, 403, 429 (the guard's), and 422 for a query a list refused (api-history.ts) */
export type RefusalReason = 'unauthorized' | 'forbidden' | 'rate_limited' | 'invalid_query';

declare module 'fastify' {
  interface FastifyRequest {
    /** the /v1 key of the request, once its guard passed */
    apiKey?: ApiKey;
  }
}

/** Who a request is, some other way than its bearer (the console's session): the key, or undefined. */
export type KeyOf = (req: FastifyRequest) => ApiKey | undefined;

export class ApiGuard {
  private readonly backoff: SourceBackoff;
  private readonly refusedLog: QuietLog;

  constructor(
    private readonly keys: KeyStore,
    logger: Logger,
    private readonly count: (reason: RefusalReason) => void,
    now: () => number = Date.now,
    /** when set, the request's key comes from here (the console's session), never from a bearer */
    private readonly keyOf?: KeyOf,
  ) {
    this.backoff = new SourceBackoff(
      { free: REFUSALS_PER_MINUTE, windowMs: 60_000, forgetMs: 60_000, maxEntries: 10_000 },
      now,
    );
    this.refusedLog = new QuietLog((f) => logger.warn(f, 'control plane API refused a request'));
  }

  /** A preHandler for routes that need `role`. */
  need(role: Role) {
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const secret = bearerOf(req);
      let key: ApiKey | undefined = this.keyOf?.(req);
      if (!this.keyOf && secret !== undefined) {
        try {
          key = await this.keys.authenticate(secret);
        } catch {
          return void reply
            .code(503)
            .send({ error: 'database_unavailable', message: 'the control plane database does not answer; retry' });
        }
      }
      if (key && roleAllows(key.role, role)) {
        req.apiKey = key;
        return;
      }
      this.refusedLog.note({ ip: req.ip, route: req.routeOptions.url, key: key?.name });
      const wait = this.backoff.refused(req.ip);
      if (key) {
        this.count('forbidden');
        return void reply
          .code(403)
          .send({ error: 'forbidden', message: `this key's role (${key.role}) may not do this; it needs ${role}` });
      }
      if (wait > 0) {
        this.count('rate_limited');
        return void reply
          .code(429)
          .header('retry-after', retryAfterSeconds(wait))
          .send({ error: 'rate_limited', message: 'too many refused requests from this address; wait and retry' });
      }
      this.count('unauthorized');
      return void reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'a valid API key is needed (Authorization: Bearer <key>)' });
    };
  }
}

/** The audit's actor of a guarded request. */
export function actorOf(req: FastifyRequest): Actor {
  const k = req.apiKey;
  return k ? { id: k.id, name: k.name } : { id: null, name: 'unknown' };
}
