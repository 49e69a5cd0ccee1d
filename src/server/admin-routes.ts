import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BridgeContext } from './context.js';

/** Constant-time bearer check; no token configured = the admin API is off (404). */
function authorized(ctx: BridgeContext, req: FastifyRequest): boolean {
  const token = ctx.config.env.adminToken;
  const header = req.headers.authorization ?? '';
  if (!token || !header.startsWith('Bearer ')) return false;
  const a = Buffer.from(header.slice(7));
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerAdminRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!ctx.config.env.adminToken) return reply.code(404).send({ error: 'admin API disabled (set ADMIN_TOKEN)' });
    if (!authorized(ctx, req)) {
      ctx.metrics.webhooksRejected.inc({ route: 'admin', reason: 'unauthorized' });
      return reply.code(401).send({ error: 'unauthorized' });
    }
  };

  app.get('/admin/calls', { preHandler: guard }, async () => ({
    calls: ctx.registry.list().map((s) => ({
      callSid: s.callSid, agent: s.agent.id, streamSid: s.streamSid ?? null,
      durationMs: Date.now() - s.startedAt, engine: s.engine?.state ?? 'none',
    })),
  }));

  app.post('/admin/calls/:sid/hangup', { preHandler: guard }, async (req, reply) => {
    const s = ctx.registry.get((req.params as { sid: string }).sid);
    if (!s) return reply.code(404).send({ error: 'no such active call' });
    void s.control.handleVerb({ type: 'end_call', reason: 'admin' } as never);
    return reply.code(202).send({ status: 'hanging_up' });
  });

  app.post('/admin/calls/:sid/transfer', { preHandler: guard }, async (req, reply) => {
    const s = ctx.registry.get((req.params as { sid: string }).sid);
    if (!s) return reply.code(404).send({ error: 'no such active call' });
    const body = (req.body ?? {}) as { destination?: unknown };
    const destination = typeof body.destination === 'string' ? body.destination.slice(0, 256) : undefined;
    void s.control.handleVerb({ type: 'transfer_to_human', destination, reason: 'admin' } as never);
    return reply.code(202).send({ status: 'transferring' });
  });
}
