import { Gauge } from 'prom-client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sameSecret } from '../security/same-secret.js';
import { bearerOf } from './admin.js';
import type { BridgeContext } from '../context.js';

/**
 * Whether the request carries METRICS_TOKEN or ADMIN_TOKEN as its bearer (hashed, constant-time
 * compare). Without either configured, nobody is: /metrics is then closed, /readyz status only.
 */
function observer(ctx: BridgeContext, req: FastifyRequest): boolean {
  const given = bearerOf(req);
  if (given === undefined) return false;
  const { metricsToken, adminToken } = ctx.config.env;
  // both compared, whichever matches: the time does not say which token is configured
  const m = metricsToken !== undefined && sameSecret(given, metricsToken);
  const a = adminToken !== undefined && sameSecret(given, adminToken);
  return m || a;
}

/** Why a balancer should send no new call here now (empty: ready). */
export function notReadyReasons(ctx: BridgeContext): string[] {
  const reasons: string[] = [];
  if (ctx.draining) reasons.push('draining');
  if (ctx.atCapacity()) reasons.push('at_capacity');
  if (!ctx.config.env.twilioAuthToken && !ctx.config.env.skipSignatureValidation) reasons.push('no_twilio_auth_token');
  return reasons;
}

export function registerHealthRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  // What /readyz says, for the alert on replicas that stay out of the balancer (deploy/prometheus/alerts.yml).
  new Gauge({
    name: 'bridge_ready',
    help: 'Whether /readyz answers ready (1) or not (0: draining, at capacity, no auth token)',
    registers: [ctx.metrics.registry],
    collect() {
      this.set(notReadyReasons(ctx).length ? 0 : 1);
    },
  });

  // Liveness: the process serves requests. Answers as soon as the server listens. Open to all.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Readiness: whether a load balancer should send new calls here. The status code is for
  // anyone (a balancer's health check has no token); the reasons and counts need the bearer.
  app.get('/readyz', async (req, reply) => {
    const reasons = notReadyReasons(ctx);
    const details = observer(ctx, req);
    if (reasons.length)
      return reply
        .code(503)
        .send(details ? { status: 'not_ready', reasons, activeCalls: ctx.registry.size } : { status: 'not_ready' });
    if (!details) return { status: 'ready' };
    // Redis lost: calls go on from local state and new ones are still taken (each replica's own
    // limit), so the balancer keeps sending calls; the fleet features wait for the store.
    const degraded: string[] = [];
    if (ctx.registry.store.health() !== 'ok') degraded.push('store_unreachable');
    // The control plane's database lost: /v1 answers 503, calls go on (they do not read it yet).
    if (ctx.controlPlaneHealth?.() === 'unreachable') degraded.push('database_unreachable');
    if (degraded.length) return { status: 'degraded', reasons: degraded, activeCalls: ctx.registry.size };
    return { status: 'ready', activeCalls: ctx.registry.size };
  });

  // Prometheus: METRICS_TOKEN (a scrape-only credential) or ADMIN_TOKEN as the bearer.
  app.get('/metrics', async (req, reply: FastifyReply) => {
    if (!observer(ctx, req)) {
      ctx.metrics.webhooksRejected.inc({ route: '/metrics', reason: 'unauthorized' });
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error:
            ctx.config.env.metricsToken || ctx.config.env.adminToken
              ? 'unauthorized: send Authorization: Bearer <METRICS_TOKEN or ADMIN_TOKEN>'
              : 'metrics are off: set METRICS_TOKEN (or ADMIN_TOKEN) and scrape with it as a bearer token',
        });
    }
    reply.type(ctx.metrics.registry.contentType);
    return ctx.metrics.registry.metrics();
  });
}
