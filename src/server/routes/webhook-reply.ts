/**
 * What the voice and IVR webhooks share: parsing a signed Twilio form, answering with TwiML, and
 * holding the answer until a pre-connected engine can speak. Its own module so that
 * voice-routes.ts and ivr-routes.ts need not import each other (scripts/check-cycles.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { CallSession } from '../../call/session.js';
import type { BridgeContext } from '../context.js';

/**
 * Holds the webhook's answer (bounded) until the pre-connected engine can speak: Twilio opens
 * the stream only after it has the TwiML, so the stream then starts on a greeting already under
 * way, however far away the engine is. The caller hears ringing meanwhile, not silence.
 */
export async function answerWhenReady(ctx: BridgeContext, session: CallSession | undefined): Promise<void> {
  if (!session) return;
  const waitMs = ctx.settings.preconnect.answer_wait_ms;
  // the voice webhook's span in the call's trace: how long Twilio waited for the answer
  const span = session.span.child('twilio.voice_webhook', { 'preconnect.answer_wait_ms': waitMs });
  if (waitMs <= 0) return span.end();
  let timer: NodeJS.Timeout | undefined;
  const answered = await Promise.race([
    session.answerable.then(() => 'engine_ready'),
    new Promise<string>((r) => (timer = setTimeout(() => r('wait_over'), waitMs))),
  ]);
  clearTimeout(timer);
  span.set({ 'webhook.answered_on': answered });
  span.end();
}

export function xml(reply: FastifyReply, twiml: string) {
  return reply.type('text/xml').send(twiml);
}

/**
 * Parses a signed Twilio form once into a typed object; a malformed one is a counted 400 with
 * the field names (never the values: they may be phone numbers).
 */
export function parseForm<T extends z.ZodTypeAny>(
  ctx: BridgeContext,
  req: FastifyRequest,
  reply: FastifyReply,
  schema: T,
): z.infer<T> | undefined {
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
