import type { FastifyReply } from 'fastify';
import type { BridgeContext } from '../context.js';

/**
 * A draining fleet member turns away what would start or take a call — the session-opening
 * webhooks (`/twilio/voice`, `/twilio/ivr`, `/twilio/outbound`) and new Media Streams upgrades —
 * with 503 and `Retry-After: 0`, before anything is claimed for the call: the balancer
 * (deploy/haproxy.cfg: `retry-on 503`, `option redispatch`) sends the same request to another
 * replica, so a caller never hears the busy message because of a deploy. The retry is safe: a
 * session-opening webhook is answered once per CallSid fleet-wide (call-memory.ts), and nothing
 * was claimed here.
 *
 * Alone (no REDIS_URL) there is no other replica to retry on, and a 503 would make Twilio play its
 * application error: a single bridge keeps answering the busy message while it drains.
 */
export function drainingInFleet(ctx: BridgeContext): boolean {
  return ctx.draining && ctx.registry.store.shared;
}

/** Answers 503 for the balancer to retry elsewhere when draining in a fleet; returns whether it did. */
export function retryElsewhere(ctx: BridgeContext, reply: FastifyReply, route: string): boolean {
  if (!drainingInFleet(ctx)) return false;
  ctx.metrics.webhooksRejected.inc({ route, reason: 'draining_retry_elsewhere' });
  void reply.code(503).header('retry-after', '0').type('text/plain').send('draining: retry on another replica');
  return true;
}
