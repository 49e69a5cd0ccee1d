import type { FastifyInstance } from 'fastify';
import { retryElsewhere } from '../calls/drain-retry.js';
import type { IvrConfig, IvrOption } from '../../config/schema.js';
import { agentStreamTwiml } from '../../twilio/stream-twiml.js';
import { dialTwiml, enqueueTwiml, gatherTwiml, hangupTwiml, sayTwiml } from '../../twilio/twiml.js';
import type { BridgeContext } from '../context.js';
import { twilioWebhookGuard } from '../security/signatures.js';
import { answerWhenReady, parseForm, xml } from './webhook-reply.js';
import { ivrParams } from './webhook-params.js';
import { answerOnce, idempotencyTokenOf, refuseEnded } from '../calls/call-memory.js';

/**
 * The optional DTMF menu before the agent (configured per number). Each attempt is a `<Gather>`
 * whose action carries the number and the attempt count; invalid or missing input repeats the
 * prompt up to `max_attempts`, then the menu's default applies.
 */
export function ivrEntryTwiml(
  ctx: BridgeContext,
  ivr: IvrConfig,
  to: string,
  attempt: number,
  prefix?: string,
): string {
  const action = `${ctx.config.env.publicUrl}/twilio/ivr?to=${encodeURIComponent(to)}&attempt=${attempt}`;
  return gatherTwiml({
    prompt: { say: prefix ? `${prefix} ${ivr.prompt.say ?? ''}`.trim() : ivr.prompt.say, playUrl: ivr.prompt.play_url },
    numDigits: 1,
    timeout: ivr.timeout_s,
    action,
    // no input: Twilio runs the verbs after <Gather>, which come back here without Digits
    after: { redirect: action },
  });
}

export function registerIvrRoutes(app: FastifyInstance, ctx: BridgeContext): void {
  app.post('/twilio/ivr', { preHandler: twilioWebhookGuard(ctx) }, async (req, reply) => {
    const p = parseForm(ctx, req, reply, ivrParams);
    if (!p) return reply;
    if (retryElsewhere(ctx, reply, '/twilio/ivr')) return reply;
    const ended = await refuseEnded(ctx, 'ivr', p.CallSid);
    if (ended) return xml(reply, ended);
    const q = req.query as Record<string, string | undefined>;
    const to = q.to ?? p.To ?? '';
    const ivr = ctx.config.file.numbers[to]?.ivr;
    if (!ivr) return xml(reply, hangupTwiml());
    const attempt = Math.max(1, Math.min(Number(q.attempt) || 1, 100));
    const digit = p.Digits?.slice(0, 1);
    const option = digit ? ivr.options[digit] : undefined;
    ctx.metrics.verbs.inc({ verb: 'ivr', result: option ? 'option' : digit ? 'invalid' : 'no_input' });
    ctx.logger.info({ callSid: p.CallSid, attempt, choice: option ? digit : digit ? 'invalid' : 'none' }, 'IVR input');
    if (option) return xml(reply, await optionTwiml(ctx, option, p, idempotencyTokenOf(req.headers)));
    if (attempt >= ivr.max_attempts)
      return xml(reply, await optionTwiml(ctx, ivr.default, p, idempotencyTokenOf(req.headers)));
    return xml(reply, ivrEntryTwiml(ctx, ivr, to, attempt + 1, digit ? ivr.invalid_say : undefined));
  });
}

async function optionTwiml(
  ctx: BridgeContext,
  option: IvrOption,
  p: { CallSid: string; From?: string; To?: string },
  idem: string | undefined,
): Promise<string> {
  if ('hangup' in option) return hangupTwiml();
  if ('agent' in option) {
    const agent = ctx.agent(option.agent) ?? ctx.agentForNumber(p.To);
    // Once per call, fleet-wide: a replayed key press gets the first answer, never a second session.
    return answerOnce(ctx, 'ivr', p.CallSid, idem, async () => {
      if (ctx.draining || ctx.atCapacity()) return hangupTwiml(ctx.settings.busy_message);
      if (!ctx.registry.get(p.CallSid))
        await answerWhenReady(ctx, ctx.preconnect({ callSid: p.CallSid, agent, from: p.From, to: p.To }));
      const token = ctx.streamTokens.mint(p.CallSid, { agent: agent.id, from: p.From, to: p.To });
      return agentStreamTwiml(ctx.config.env.publicUrl, ctx.settings, { token });
    });
  }
  // a transfer target by name, searched in every agent's allow-list
  for (const a of ctx.config.file.agents) {
    const t = a.transfer.targets.find((x) => x.name === option.transfer);
    if (!t) continue;
    if (t.kind === 'queue') return enqueueTwiml({ queue: t.value, waitUrl: a.transfer.queue_wait_url });
    return dialTwiml({
      target: { kind: t.kind, value: t.value },
      callerId: a.transfer.caller_id,
      timeout: a.transfer.timeout_s,
      answerOnBridge: a.transfer.answer_on_bridge,
    });
  }
  return sayTwiml('Sorry, that option is not available.', 'hangup');
}
