import type { FastifyInstance } from 'fastify';
import { hangupTwiml } from '../../twilio/twiml.js';
import { TwilioLeg } from '../../twilio/leg.js';
import { WARM_ACCEPT_PATH, WARM_STATUS_PATH, type TwilioWarm, type WarmRejection } from '../../twilio/warm-leg.js';
import type { BridgeContext } from '../context.js';
import { twilioWebhookGuard } from '../security/signatures.js';
import { parseForm, xml } from './webhook-reply.js';
import { ivrParams, statusParams } from './webhook-params.js';
import { CALL_SID_RE } from '../../twilio/wire.js';
import { isFinalCallStatus } from '../../call/outcome.js';

/**
 * The human leg's callbacks of a warm transfer (src/twilio/warm-leg.ts): its accept (the key, or
 * the whisper's end) and its status. Each is signed like every Twilio webhook (the guard) and names
 * the caller's CallSid and the attempt's one-time nonce in its signed URL; the caller's live
 * session and its leg decide whether it fits the attempt. Anything that does not (a replay, a
 * callback for another call or an earlier attempt) is refused, logged and counted, and changes
 * nothing: the human's leg gets a hang-up, never the conference.
 *
 * The attempt lives with the caller's session, on the replica that holds it: a callback that
 * lands on another replica finds no attempt (refused; the attempt's own timer then gives the
 * caller back to the agent). docs/decisions.md, Control plane.
 */
export function registerWarmRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  const guard = twilioWebhookGuard(ctx);

  const warmOf = (callerSid: string | undefined): TwilioWarm | undefined => {
    if (!callerSid || !CALL_SID_RE.test(callerSid)) return undefined;
    const s = ctx.registry.get(callerSid);
    return s && !s.isEnded && s.leg instanceof TwilioLeg ? s.leg.warm : undefined;
  };
  const refuse = (route: string, reason: WarmRejection, humanSid: string, callerSid: string | undefined) => {
    ctx.metrics.webhooksRejected.inc({ route, reason });
    ctx.logger.warn({ route, reason, humanSid, callSid: callerSid }, 'warm-transfer callback refused: nothing changed');
  };

  app.post(WARM_ACCEPT_PATH, { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, ivrParams);
    if (!p) return reply;
    const q = req.query as Record<string, string | undefined>;
    const warm = warmOf(q.call);
    const r = warm ? warm.onAccept(q.nonce, p.CallSid, p.Digits || undefined) : 'no_warm_transfer';
    if (typeof r === 'string') {
      refuse(WARM_ACCEPT_PATH, r, p.CallSid, q.call);
      return xml(reply, hangupTwiml());
    }
    return xml(reply, r.twiml);
  });

  app.post(WARM_STATUS_PATH, { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, statusParams);
    if (!p) return reply;
    const q = req.query as Record<string, string | undefined>;
    const warm = warmOf(q.call);
    // The human's leg outlives the caller's session once the two talk: its final callback is normal.
    if (!warm) {
      if (!isFinalCallStatus(p.CallStatus)) refuse(WARM_STATUS_PATH, 'no_warm_transfer', p.CallSid, q.call);
      return reply.code(204).send();
    }
    const rejected = warm.onStatus(q.nonce, p.CallSid, p.CallStatus);
    if (rejected) refuse(WARM_STATUS_PATH, rejected, p.CallSid, q.call);
    return reply.code(204).send();
  });
}
