import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { maskForPage } from '../observability/redact.js';
import { actorOf, type ApiGuard } from './api-auth.js';
import { parseOr422 } from './api-common.js';
import { writeAudit } from './audit.js';
import type { Queryable } from './pool.js';

/**
 * The operator's live-call actions on /v1 (role operator): hang up and transfer, through the same
 * fleet-wide call control the admin API and the console use. Each accepted action is an audit row
 * (the destination masked like a number on a page: the audit is read by people).
 */

export interface ControlAnswer {
  status: number;
  body: Record<string, unknown>;
}

export interface LiveCalls {
  hangup(callSid: string, by: string): Promise<ControlAnswer>;
  transfer(callSid: string, destination: string | undefined, by: string): Promise<ControlAnswer>;
}

const transferBody = z.object({ destination: z.string().min(1).max(256).optional() }).strict();
const sidOf = (req: { params: unknown }) => ((req.params as { sid?: string }).sid ?? '').slice(0, 64);

export function registerCallRoutes(app: FastifyInstance, calls: LiveCalls, db: Queryable, guard: ApiGuard): void {
  app.post('/calls/:sid/hangup', { preHandler: guard.need('operator') }, async (req, reply) => {
    const actor = actorOf(req);
    const sid = sidOf(req);
    const r = await calls.hangup(sid, `api:${actor.name}`);
    if (r.status < 300) await writeAudit(db, actor, 'call.hangup', `call:${sid}`, null, r.body);
    return reply.code(r.status).send(r.body);
  });

  app.post('/calls/:sid/transfer', { preHandler: guard.need('operator') }, async (req, reply) => {
    const body = parseOr422(transferBody, req.body, reply);
    if (!body) return reply;
    const actor = actorOf(req);
    const sid = sidOf(req);
    const r = await calls.transfer(sid, body.destination, `api:${actor.name}`);
    if (r.status < 300)
      await writeAudit(db, actor, 'call.transfer', `call:${sid}`, null, {
        ...r.body,
        ...(body.destination ? { destination: maskForPage(body.destination) } : {}),
      });
    return reply.code(r.status).send(r.body);
  });
}
