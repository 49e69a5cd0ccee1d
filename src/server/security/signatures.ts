import type { FastifyReply, FastifyRequest } from 'fastify';
import { retryElsewhere } from '../calls/drain-retry.js';
import { verifyMediaUpgrade, verifyWebhook } from '../../twilio/signature.js';
import type { BridgeContext } from '../context.js';
import { RefusalLimiter } from './ip-limiter.js';

const limiters = new WeakMap<BridgeContext, RefusalLimiter>();
function limiterOf(ctx: BridgeContext): RefusalLimiter {
  let l = limiters.get(ctx);
  if (!l) limiters.set(ctx, (l = new RefusalLimiter()));
  return l;
}

/** Refusals per address per window, as the limiter counts them (ip-limiter.ts defaults). */
const FLEET_MAX_REFUSALS = 30;
const FLEET_WINDOW_MS = 60_000;

/**
 * An address that keeps sending unsigned or wrongly signed requests gets 429s instead of 403s.
 * In a fleet the refusals are counted in the store too, so spreading a flood over the replicas
 * (a balancer does that) does not multiply its allowance.
 */
async function throttled(ctx: BridgeContext, req: FastifyRequest, reply: FastifyReply, route: string) {
  const store = ctx.registry.store;
  const blocked =
    limiterOf(ctx).blocked(req.ip) || (store.shared && ((await store.refusals(req.ip)) ?? 0) >= FLEET_MAX_REFUSALS);
  if (!blocked) return undefined;
  ctx.metrics.webhooksRejected.inc({ route, reason: 'rate_limited' });
  return reply.code(429).type('text/plain').send('Too Many Requests');
}

/**
 * Every Twilio-facing request is signed. The URL is rebuilt from PUBLIC_URL, never from the Host
 * header or the scheme the server sees: behind a TLS proxy those differ from what Twilio signed.
 * A refusal happens before any session or engine socket exists.
 */
function refuse(ctx: BridgeContext, req: FastifyRequest, reply: FastifyReply, route: string, reason: string) {
  ctx.metrics.webhooksRejected.inc({ route, reason });
  limiterOf(ctx).noteRefusal(req.ip);
  if (ctx.registry.store.shared) void ctx.registry.store.noteRefusal(req.ip, FLEET_WINDOW_MS);
  ctx.logger.warn({ route, reason, ip: req.ip }, 'twilio request refused');
  return reply.code(403).type('text/plain').send('Forbidden');
}

export function twilioWebhookGuard(ctx: BridgeContext) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const route = req.routeOptions.url ?? req.url;
    // Signatures off (development): every request counts as signed, as it does for the routes.
    if (ctx.config.env.skipSignatureValidation) return ctx.connections?.promote(req.raw.socket);
    const token = ctx.config.env.twilioAuthToken;
    if (!token) return refuse(ctx, req, reply, route, 'no_auth_token_configured');
    // The throttle applies to what would be refused anyway: Twilio shares its egress addresses
    // (and a proxy hop may share one for all) with whoever floods, so signed requests always pass.
    const sig = req.headers['x-twilio-signature'];
    if (typeof sig !== 'string' || !sig)
      return (await throttled(ctx, req, reply, route)) ?? refuse(ctx, req, reply, route, 'missing_signature');
    const params = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, string | string[]>;
    if (!verifyWebhook(token, ctx.config.env.publicUrl, req.url, params, sig)) {
      return (await throttled(ctx, req, reply, route)) ?? refuse(ctx, req, reply, route, 'bad_signature');
    }
    ctx.connections?.promote(req.raw.socket);
  };
}

export function twilioUpgradeGuard(ctx: BridgeContext) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (ctx.config.env.skipSignatureValidation) return ctx.connections?.promote(req.raw.socket);
    const token = ctx.config.env.twilioAuthToken;
    if (!token) return refuse(ctx, req, reply, '/twilio/media', 'no_auth_token_configured');
    const sig = req.headers['x-twilio-signature'];
    if (typeof sig !== 'string' || !sig)
      return (
        (await throttled(ctx, req, reply, '/twilio/media')) ??
        refuse(ctx, req, reply, '/twilio/media', 'missing_signature')
      );
    if (!verifyMediaUpgrade(token, ctx.config.env.publicUrl, req.url.split('?')[0]!, sig)) {
      return (
        (await throttled(ctx, req, reply, '/twilio/media')) ?? refuse(ctx, req, reply, '/twilio/media', 'bad_signature')
      );
    }
    ctx.connections?.promote(req.raw.socket);
    // A draining fleet member takes no new stream: 503 at the upgrade, and the balancer retries it
    // elsewhere (a stream refused after its `start` would get the busy message). drain-retry.ts.
    if (retryElsewhere(ctx, reply, '/twilio/media')) return reply;
  };
}
