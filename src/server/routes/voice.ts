import type { FastifyInstance } from 'fastify';
import { agentStreamTwiml } from '../../twilio/stream-twiml.js';
import { hangupTwiml } from '../../twilio/twiml.js';
import { isFinalCallStatus } from '../../call/outcome.js';
import type { BridgeContext } from '../context.js';
import { twilioWebhookGuard } from '../security/signatures.js';
import { ivrEntryTwiml } from './ivr.js';
import { answerWhenReady, parseForm, xml } from './webhook-reply.js';
// Each webhook's parameters, strictly formed; any other parameter is dropped and never used.
import { dialParams, statusParams, voiceParams } from './webhook-params.js';
import { checkDialAction } from './dial-action.js';
import { answerOnce, idempotencyTokenOf, refuseEnded } from '../calls/call-memory.js';
import { NO_AGENT } from '../../observability/call-labels.js';
import { retryElsewhere } from '../calls/drain-retry.js';

export function registerVoiceRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  const guard = twilioWebhookGuard(ctx);
  const publicUrl = ctx.config.env.publicUrl;

  app.post('/twilio/voice', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, voiceParams);
    if (!p) return reply;
    // A draining fleet member: 503 before anything is claimed, the balancer retries elsewhere.
    if (retryElsewhere(ctx, reply, '/twilio/voice')) return reply;
    const log = ctx.logger.child({ callSid: p.CallSid });
    const busy = async (): Promise<string | undefined> => {
      if (!ctx.draining && (await ctx.admit(p.CallSid))) return undefined;
      log.warn({ draining: ctx.draining, active: ctx.registry.size }, 'refusing a new call');
      // An IVR number has no agent until the caller picks one: NO_AGENT, not a guess.
      const agentId = route?.ivr ? NO_AGENT : ctx.agentForNumber(p.To).id;
      const labels = ctx.metrics.callLabels.of({ agentId, to: p.To });
      ctx.metrics.calls.inc({ ...labels, outcome: ctx.draining ? 'refused_draining' : 'refused_capacity' });
      return hangupTwiml(ctx.settings.busy_message);
    };
    const route = p.To ? ctx.config.file.numbers[p.To] : undefined;
    if (route?.ivr) {
      // A replayed webhook of a call that is over opens nothing, not even its IVR menu.
      const ended = await refuseEnded(ctx, 'voice', p.CallSid);
      return xml(reply, ended ?? (await busy()) ?? ivrEntryTwiml(ctx, route.ivr, p.To, 1));
    }
    // Once per call, fleet-wide: a retry gets this same answer, a replay never a second session.
    const twiml = await answerOnce(ctx, 'voice', p.CallSid, idempotencyTokenOf(req.headers), async () => {
      const refused = await busy();
      if (refused) return refused;
      const agent = ctx.agentForNumber(p.To);
      log.info({ agent: agent.id, direction: p.Direction }, 'incoming call');
      if (!ctx.registry.get(p.CallSid))
        await answerWhenReady(
          ctx,
          ctx.preconnect({ callSid: p.CallSid, agent, from: p.From, to: p.To, direction: p.Direction }),
        );
      const token = ctx.streamTokens.mint(p.CallSid, { agent: agent.id, from: p.From, to: p.To });
      return agentStreamTwiml(publicUrl, ctx.settings, { token });
    });
    return xml(reply, twiml);
  });

  // An outbound call placed through the admin API, answered: Twilio requests this (signed, the
  // agent in the signed URL's query), and the TwiML binds the stream to the real CallSid.
  app.post('/twilio/outbound', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, voiceParams);
    if (!p) return reply;
    if (retryElsewhere(ctx, reply, '/twilio/outbound')) return reply;
    const q = req.query as Record<string, string | undefined>;
    const agent = ctx.agent(q.agent) ?? ctx.agentForNumber(p.From);
    const twiml = await answerOnce(ctx, 'outbound', p.CallSid, idempotencyTokenOf(req.headers), async () => {
      if (ctx.draining || !(await ctx.admit(p.CallSid))) {
        const labels = ctx.metrics.callLabels.of({ agentId: agent.id, to: p.To });
        ctx.metrics.calls.inc({ ...labels, outcome: ctx.draining ? 'refused_draining' : 'refused_capacity' });
        return hangupTwiml(ctx.settings.busy_message);
      }
      ctx.logger.info({ callSid: p.CallSid, agent: agent.id }, 'outbound call answered');
      const token = ctx.streamTokens.mint(p.CallSid, { agent: agent.id, from: p.From, to: p.To });
      return agentStreamTwiml(publicUrl, ctx.settings, { token });
    });
    return xml(reply, twiml);
  });

  app.post('/twilio/status', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, statusParams);
    if (!p) return reply;
    const session = ctx.registry.get(p.CallSid);
    const seq = p.SequenceNumber ? Number(p.SequenceNumber) : undefined;
    // Callbacks can arrive out of order: an older one never overrides a newer status.
    if (session && !session.acceptStatus(p.CallStatus, seq)) return reply.code(204).send();
    ctx.logger.info({ callSid: p.CallSid, status: p.CallStatus, seq }, 'call status');
    const status = p.CallStatus;
    const final = isFinalCallStatus(status);
    if (session && final && !session.hasStream) session.end(`twilio_${status}`);
    // Any replica may get it: the call's slot and directory entry go, wherever its session was.
    if (final) await ctx.registry.noteEndedAtTwilio(p.CallSid);
    return reply.code(204).send();
  });

  app.post('/twilio/dial-action', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, dialParams);
    if (!p) return reply;
    const q = req.query as Record<string, string | undefined>;
    const status = p.DialCallStatus;
    const answered = status === 'completed' || status === 'answered';
    const check = await checkDialAction(ctx, p.CallSid, q.nonce);
    if (!check.ok) {
      // The call ended, still has its agent, or was not handed off by this bridge: never reopen a
      // session for it. (A human's long conversation outlives the parked context: that is normal.)
      if (answered) ctx.logger.info({ callSid: p.CallSid, status }, 'transfer finished');
      else {
        ctx.metrics.webhooksRejected.inc({ route: '/twilio/dial-action', reason: check.reason });
        ctx.logger.warn(
          { callSid: p.CallSid, status, reason: check.reason },
          'dial-action inconsistent with the call: no engine session reopened',
        );
      }
      const fallbackAgent = ctx.agent(q.agent) ?? ctx.agentForNumber(p.To);
      return xml(reply, hangupTwiml(answered ? undefined : fallbackAgent.transfer.voicemail_message));
    }
    const parked = check.parked;
    const agent = ctx.agent(parked.agent) ?? ctx.agentForNumber(parked.to);
    const target = agent.transfer.targets.find((t) => t.name === q.target)?.name;
    const labels = ctx.metrics.callLabels.of({ agentId: agent.id, to: parked.to });
    ctx.metrics.transfers.inc({ ...labels, result: `dial_${status}` });
    ctx.logger.info({ callSid: p.CallSid, status, target }, 'transfer finished');
    if (answered) return xml(reply, hangupTwiml());
    switch (agent.transfer.on_no_answer) {
      case 'voicemail':
        return xml(reply, hangupTwiml(agent.transfer.voicemail_message));
      case 'hangup':
        return xml(reply, hangupTwiml());
      case 'back_to_agent': {
        const note = `A transfer to ${target ?? 'a human'} did not succeed (${status}). Tell the caller briefly and offer to help another way.`;
        const info = {
          callSid: p.CallSid,
          agent,
          from: parked.from,
          to: parked.to,
          ...(parked.direction ? { direction: parked.direction } : {}),
        };
        // In a fleet the stream may land on any replica: it resumes the conversation from the store.
        if (ctx.registry.store.shared)
          await ctx.registry.store.park({ ...parked, reason: 'moved', note }, ctx.streamTokens.ttlMs + 60_000);
        else if (!ctx.registry.get(p.CallSid))
          await answerWhenReady(ctx, ctx.preconnect(info, { note, turns: parked.turns }));
        // A bridge-requested restart: this stream may replace whatever stream the call still has.
        const token = ctx.streamTokens.mint(p.CallSid, {
          purpose: 'restart',
          agent: agent.id,
          from: info.from,
          to: info.to,
        });
        return xml(reply, agentStreamTwiml(publicUrl, ctx.settings, { token }));
      }
    }
  });
}
