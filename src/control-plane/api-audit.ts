import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiGuard } from './api-auth.js';
import { pageQuery, parseOr422 } from './api-common.js';
import { listAudit } from './audit.js';
import type { Queryable } from './pool.js';

const auditQuery = z.object({ action: z.string().max(64).optional(), target: z.string().max(128).optional() }).loose();

/** GET /v1/audit: admin only, newest first, `?action=&target=` filters. */
export function registerAuditRoutes(app: FastifyInstance, db: Queryable, guard: ApiGuard): void {
  app.get('/audit', { preHandler: guard.need('admin') }, async (req, reply) => {
    const q = pageQuery(req, reply);
    if (!q) return reply;
    const f = parseOr422(auditQuery, req.query, reply, 'invalid_query');
    if (!f) return reply;
    return listAudit(db, {
      limit: q.limit,
      ...(typeof q.cursorKey === 'number' ? { beforeId: q.cursorKey } : {}),
      ...(f.action ? { action: f.action } : {}),
      ...(f.target ? { target: f.target } : {}),
    });
  });
}
