import type { FastifyInstance } from 'fastify';
import { hangupTwiml } from '../../twilio/twiml.js';
import { TwilioLeg } from '../../twilio/leg.js';
import { WARM_ACCEPT_PATH, WARM_STATUS_PATH, type TwilioWarm, type WarmRejection } from '../../twilio/warm-leg.js';
import type { BridgeContext } from '../context.js';
import type { WarmOp } from '../calls/fleet-calls.js';
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
 * lands on another replica (signature checked there) is forwarded to the owner over the fleet's
 * control channel, which checks it against its attempt and answers; an owner that does not answer
 * in time leaves the human's leg hung up and the attempt's own timer gives the caller back to
 * the agent. docs/decisions.md, Warm transfers.
 */
export function registerWarmRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  const guard = twilioWebhookGuard(ctx);

  const warmOf = (callerSid: string | undefined): TwilioWarm | undefined => {
    if (!callerSid || !CALL_SID_RE.test(callerSid)) return undefined;
    const s = ctx.registry.get(callerSid);
    return s && !s.isEnded && s.leg instanceof TwilioLeg ? s.leg.warm : undefined;
  };
  // the owner's side of a callback that reached another replica
  ctx.calls.serveWarm = (s, cmd) => {
    const warm = s.leg instanceof TwilioLeg ? s.leg.warm : undefined;
    if (cmd.op === 'warm_accept') {
      const r = warm ? warm.onAccept(cmd.nonce, cmd.humanSid, cmd.digits) : 'no_warm_transfer';
      return typeof r === 'string' ? { status: 409, body: { rejected: r } } : { status: 200, body: { twiml: r.twiml } };
    }
    const rejected = warm ? warm.onStatus(cmd.nonce, cmd.humanSid, cmd.status) : 'no_warm_transfer';
    return rejected ? { status: 409, body: { rejected } } : { status: 200, body: {} };
  };
  /** Asks the owner of `callerSid` (another replica) to take the callback; a string: why not. */
  const forward = async (callerSid: string | undefined, cmd: WarmOp): Promise<{ twiml?: string } | WarmRejection> => {
    if (!callerSid || !CALL_SID_RE.test(callerSid) || !cmd.nonce) return 'no_warm_transfer';
    const r = await ctx.calls.warmCallback(callerSid, cmd);
    if (r.status === 200) return typeof r.body.twiml === 'string' ? { twiml: r.body.twiml } : {};
    const why = r.body.rejected;
    return why === 'stale_warm_callback' || why === 'wrong_call' || why === 'replayed' ? why : 'no_warm_transfer';
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
    const cmd: WarmOp = {
      op: 'warm_accept',
      nonce: q.nonce ?? '',
      humanSid: p.CallSid,
      ...(p.Digits ? { digits: p.Digits } : {}),
    };
    const r = warm ? warm.onAccept(q.nonce, p.CallSid, p.Digits || undefined) : await forward(q.call, cmd);
    if (typeof r === 'string' || r.twiml === undefined) {
      if (typeof r !== 'string') return xml(reply, hangupTwiml());
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
    const rejected = warm
      ? warm.onStatus(q.nonce, p.CallSid, p.CallStatus)
      : await forward(q.call, {
          op: 'warm_status',
          nonce: q.nonce ?? '',
          humanSid: p.CallSid,
          status: p.CallStatus,
        }).then((r) => (typeof r === 'string' ? r : undefined));
    // The human's leg outlives the caller's session once the two talk: its final callback is normal.
    if (rejected === 'no_warm_transfer' && isFinalCallStatus(p.CallStatus)) return reply.code(204).send();
    if (rejected) refuse(WARM_STATUS_PATH, rejected, p.CallSid, q.call);
    return reply.code(204).send();
  });
}
