import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { agentStreamTwiml } from '../control/stream-twiml.js';
import { hangupTwiml } from '../twilio/twiml.js';
import type { BridgeContext } from './context.js';
import type { CallSession } from '../call/session.js';
import { twilioWebhookGuard } from './signatures.js';
import { ivrEntryTwiml } from './ivr-routes.js';

const callSid = z.string().regex(/^CA[0-9a-fA-F]{32}$/);
const voiceParams = z.object({
  CallSid: callSid,
  AccountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/),
  From: z.string().max(256).optional(),
  To: z.string().max(256).optional(),
  CallStatus: z.string().max(32).optional(),
  Direction: z.string().max(32).optional(),
});
const statusParams = voiceParams.extend({
  CallStatus: z.string().max(32),
  SequenceNumber: z.string().regex(/^\d{1,9}$/).optional(),
  CallDuration: z.string().max(16).optional(),
});
const dialParams = voiceParams.extend({ DialCallStatus: z.string().max(32) });

/**
 * Holds the webhook's answer (bounded) until the pre-connected engine can speak: Twilio opens
 * the stream only after it has the TwiML, so the stream then starts on a greeting already under
 * way, however far away the engine is. The caller hears ringing meanwhile, not silence.
 */
export async function answerWhenReady(ctx: BridgeContext, session: CallSession | undefined): Promise<void> {
  const waitMs = ctx.settings.preconnect.answer_wait_ms;
  if (!session || waitMs <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([session.answerable, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
  clearTimeout(timer);
}

export function xml(reply: FastifyReply, twiml: string) {
  return reply.type('text/xml').send(twiml);
}

/**
 * Parses a signed Twilio form once into a typed object; a malformed one is a counted 400 with
 * the field names (never the values: they may be phone numbers).
 */
export function parseForm<T extends z.ZodTypeAny>(ctx: BridgeContext, req: FastifyRequest, reply: FastifyReply, schema: T): z.infer<T> | undefined {
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(',');
    ctx.metrics.webhooksRejected.inc({ route: req.routeOptions.url ?? 'unknown', reason: 'invalid_params' });
    ctx.logger.warn({ route: req.routeOptions.url, fields }, 'twilio webhook with invalid parameters');
    void reply.code(400).type('text/plain').send(`invalid parameters: ${fields}`);
    return undefined;
  }
  const sid = ctx.config.env.twilioAccountSid;
  const acct = (parsed.data as { AccountSid?: string }).AccountSid;
  if (sid && acct && acct !== sid) {
    ctx.metrics.webhooksRejected.inc({ route: req.routeOptions.url ?? 'unknown', reason: 'wrong_account' });
    void reply.code(403).type('text/plain').send('Forbidden');
    return undefined;
  }
  return parsed.data;
}

export function registerVoiceRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  const guard = twilioWebhookGuard(ctx);
  const publicUrl = ctx.config.env.publicUrl;

  app.post('/twilio/voice', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, voiceParams);
    if (!p) return reply;
    const log = ctx.logger.child({ callSid: p.CallSid });
    if (ctx.draining || ctx.atCapacity()) {
      log.warn({ draining: ctx.draining, active: ctx.registry.size }, 'refusing a new call');
      ctx.metrics.calls.inc({ outcome: ctx.draining ? 'refused_draining' : 'refused_capacity' });
      return xml(reply, hangupTwiml(ctx.settings.busy_message));
    }
    const route = p.To ? ctx.config.file.numbers[p.To] : undefined;
    if (route?.ivr) return xml(reply, ivrEntryTwiml(ctx, route.ivr, p.To!, 1));
    const agent = ctx.agentForNumber(p.To);
    log.info({ agent: agent.id, direction: p.Direction }, 'incoming call');
    if (!ctx.registry.get(p.CallSid)) await answerWhenReady(ctx, ctx.preconnect({ callSid: p.CallSid, agent, from: p.From, to: p.To }));
    return xml(reply, agentStreamTwiml(publicUrl, ctx.settings, { agent: agent.id, from: p.From, to: p.To }));
  });

  app.post('/twilio/status', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, statusParams);
    if (!p) return reply;
    const session = ctx.registry.get(p.CallSid);
    const seq = p.SequenceNumber ? Number(p.SequenceNumber) : undefined;
    // Callbacks can arrive out of order: an older one never overrides a newer status.
    if (session && !session.acceptStatus(p.CallStatus, seq)) return reply.code(204).send();
    ctx.logger.info({ callSid: p.CallSid, status: p.CallStatus, seq }, 'call status');
    const final = ['completed', 'busy', 'failed', 'no-answer', 'canceled'].includes(p.CallStatus);
    if (session && final && !session.hasStream) session.end(`twilio_${p.CallStatus}`);
    return reply.code(204).send();
  });

  app.post('/twilio/dial-action', { preHandler: guard }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, dialParams);
    if (!p) return reply;
    const q = req.query as Record<string, string | undefined>;
    const agent = ctx.agent(q.agent) ?? ctx.agentForNumber(p.To);
    const status = p.DialCallStatus;
    const parked = ctx.registry.unpark(p.CallSid);
    ctx.metrics.transfers.inc({ result: `dial_${status.replace(/[^a-z-]/g, '').slice(0, 20)}` });
    ctx.logger.info({ callSid: p.CallSid, status, target: q.target }, 'transfer finished');
    if (status === 'completed' || status === 'answered') return xml(reply, hangupTwiml());
    switch (agent.transfer.on_no_answer) {
      case 'voicemail':
        return xml(reply, hangupTwiml(agent.transfer.voicemail_message));
      case 'hangup':
        return xml(reply, hangupTwiml());
      case 'back_to_agent': {
        const note = `A transfer to ${q.target ?? 'a human'} did not succeed (${status}). Tell the caller briefly and offer to help another way.`;
        const info = parked?.info ?? { callSid: p.CallSid, agent, from: p.From, to: p.To };
        if (!ctx.registry.get(p.CallSid)) await answerWhenReady(ctx, ctx.preconnect({ ...info, agent }, note, parked?.turns));
        return xml(reply, agentStreamTwiml(publicUrl, ctx.settings, { agent: agent.id, from: info.from, to: info.to, resume: 'transfer_failed' }));
      }
    }
  });
}
