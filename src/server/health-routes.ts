import type { FastifyInstance } from 'fastify';
import type { BridgeContext } from './context.js';

export function registerHealthRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  // Liveness: the process serves requests. Answers as soon as the server listens.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Readiness: whether a load balancer should send new calls here.
  app.get('/readyz', async (_req, reply) => {
    const reasons: string[] = [];
    if (ctx.draining) reasons.push('draining');
    if (ctx.atCapacity()) reasons.push('at_capacity');
    if (!ctx.config.env.twilioAuthToken && !ctx.config.env.skipSignatureValidation)
      reasons.push('no_twilio_auth_token');
    if (reasons.length) return reply.code(503).send({ status: 'not_ready', reasons, activeCalls: ctx.registry.size });
    // Redis lost: calls go on from local state and new ones are still taken (each replica's own
    // limit), so the balancer keeps sending calls; the fleet features wait for the store.
    if (ctx.registry.store.health() !== 'ok')
      return { status: 'degraded', reasons: ['store_unreachable'], activeCalls: ctx.registry.size };
    return { status: 'ready', activeCalls: ctx.registry.size };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
