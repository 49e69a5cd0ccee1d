import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { sameSecret } from '../security/same-secret.js';
import type { BridgeContext } from '../context.js';
import { destinationHint, outboundPolicyOf } from '../security/outbound-policy.js';
import { QuietLog, retryAfterSeconds, SourceBackoff } from '../security/source-backoff.js';

const outboundBody = z
  .object({
    to: z
      .string()
      .regex(
        /^(\+[1-9]\d{6,14}|sips?:[^\s@]+@\S+|client:[A-Za-z0-9_.-]+)$/,
        'E.164 number, sip: URI or client: identity',
      ),
    from: z.string().regex(/^\+[1-9]\d{6,14}$/, 'E.164 number'),
    agent: z.string().min(1).max(64),
    machine_detection: z.boolean().default(false),
  })
  .strict();

/** The bearer token of an Authorization header (bounded), or undefined. */
export function bearerOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ') || header.length > 1024) return undefined;
  return header.slice(7);
}

/** Bearer check: both sides hashed, compared in constant time (neither content nor length leaks). */
function authorized(token: string, req: FastifyRequest): boolean {
  const given = bearerOf(req);
  return given !== undefined && sameSecret(given, token);
}

/**
 * The :sid of a control route (Fastify's path parameters are strings), bounded (it travels to
 * other replicas and into logs).
 */
function callSidParam(req: FastifyRequest): string {
  return ((req.params as { sid?: string }).sid ?? '').slice(0, 64);
}

export function registerAdminRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  // Wrong or missing tokens back off per source (never globally); a right token always passes
  // (docs/decisions.md, "Wrong credentials back off per source").
  const backoff = new SourceBackoff();
  const refusedLog = new QuietLog((f) => ctx.logger.warn(f, 'admin API refused: wrong or missing bearer token'));
  const guard = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = ctx.config.env.adminToken;
    if (!token) return reply.code(404).send({ error: 'admin API disabled (set ADMIN_TOKEN)' });
    if (authorized(token, req)) return;
    refusedLog.note({ ip: req.ip, route: req.routeOptions.url });
    const wait = backoff.refused(req.ip);
    if (wait > 0) {
      ctx.metrics.webhooksRejected.inc({ route: 'admin', reason: 'rate_limited' });
      return reply
        .code(429)
        .header('retry-after', retryAfterSeconds(wait))
        .send({ error: 'too many refused requests from this address; wait and retry' });
    }
    ctx.metrics.webhooksRejected.inc({ route: 'admin', reason: 'unauthorized' });
    return reply.code(401).send({ error: 'unauthorized' });
  };

  // Outbound: Twilio dials and, on answer, requests /twilio/outbound (signed), whose TwiML
  // connects the stream with a token for the agent chosen here (voice-routes.ts).
  app.post('/admin/calls', { preHandler: guard }, async (req, reply) => {
    const parsed = outboundBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      return reply
        .code(400)
        .send({ error: 'invalid_body', fields: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
    }
    const b = parsed.data;
    const agent = ctx.agent(b.agent);
    if (!agent) return reply.code(400).send({ error: 'unknown_agent' });
    // The configuration in force now, not the one at start-up: a reload that removes a target
    // stops it being dialled, one that adds a target or a number allows it.
    const outboundPolicy = outboundPolicyOf(ctx.config.file);
    // A leaked admin token must not become a toll-fraud tool: only allowed destinations are dialled.
    if (!outboundPolicy.allows(b.to)) {
      ctx.metrics.webhooksRejected.inc({ route: 'admin', reason: 'destination_not_allowed' });
      ctx.logger.warn(
        { agent: agent.id, destination: destinationHint(b.to) },
        'outbound call refused: destination not allowed',
      );
      return reply.code(403).send({
        error: 'destination_not_allowed',
        message: 'the destination is neither a transfer target nor in bridge.outbound.allow',
      });
    }
    // Nor a caller-ID spoofer: the call shows one of the account's configured numbers.
    if (!outboundPolicy.allowsFrom(b.from)) {
      ctx.metrics.webhooksRejected.inc({ route: 'admin', reason: 'from_not_allowed' });
      ctx.logger.warn({ agent: agent.id, from: destinationHint(b.from) }, 'outbound call refused: from is not ours');
      return reply.code(403).send({
        error: 'from_not_allowed',
        message: 'from must be one of the numbers configured under numbers:',
      });
    }
    if (!ctx.rest) return reply.code(503).send({ error: 'Twilio REST credentials are not configured' });
    if (ctx.draining || ctx.atCapacity())
      return reply.code(503).send({ error: 'not accepting calls (draining or at capacity)' });
    // The CallSid is not known until Twilio creates the call, so the stream's TwiML (and its
    // token, bound to that CallSid) comes from the signed answer webhook, /twilio/outbound.
    const url = `${ctx.config.env.publicUrl}/twilio/outbound?agent=${encodeURIComponent(agent.id)}`;
    const res = await ctx.rest.createCall({
      to: b.to,
      from: b.from,
      url,
      statusCallback: `${ctx.config.env.publicUrl}/twilio/status`,
      statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      ...(b.machine_detection ? { machineDetection: 'Enable' } : {}),
    });
    if (!res.ok) {
      return reply
        .code(502)
        .send({ error: 'twilio_refused', status: res.status ?? null, code: res.code ?? null, message: res.message });
    }
    ctx.logger.info({ callSid: res.callSid, agent: agent.id }, 'outbound call placed');
    return reply.code(201).send({ callSid: res.callSid, agent: agent.id });
  });

  // The fleet's calls (every replica's, from the store's directory); `partial` when the store is unreachable.
  app.get('/admin/calls', { preHandler: guard }, async () => ctx.calls.list());

  // Hang-up and transfer act wherever the call is held: here, or through its owner (fleet-calls.ts).
  app.post('/admin/calls/:sid/hangup', { preHandler: guard }, async (req, reply) => {
    const r = await ctx.calls.hangup(callSidParam(req), 'admin_api');
    return reply.code(r.status).send(r.body);
  });

  // Re-reads the configuration file: 200 with what changed, or 422 naming the field (nothing changed).
  app.post('/admin/config/reload', { preHandler: guard }, async (_req, reply) => {
    const r = await ctx.reloadConfig('admin_api');
    return reply.code(r.ok ? 200 : 422).send(r);
  });

  app.post('/admin/calls/:sid/transfer', { preHandler: guard }, async (req, reply) => {
    const body = (req.body ?? {}) as { destination?: unknown };
    const destination = typeof body.destination === 'string' ? body.destination.slice(0, 256) : undefined;
    const r = await ctx.calls.transfer(callSidParam(req), destination, 'admin_api');
    return reply.code(r.status).send(r.body);
  });
}
