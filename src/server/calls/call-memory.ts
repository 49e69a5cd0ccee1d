/**
 * A webhook that would open a session for a call, answered at most once per call, fleet-wide.
 * Twilio's signatures carry no timestamp: one captured `/twilio/voice` (or `/twilio/ivr`,
 * `/twilio/outbound`) request, replayed, would otherwise get a fresh stream token and a
 * pre-connected engine session as the victim's call, again and again. So:
 *
 * - the first such request for a CallSid claims it in the fleet store (SET NX in Redis) and its
 *   answer is kept for ANSWER_MEMORY_MS: a repeat within that time (Twilio retries a webhook it
 *   timed out on) gets the very same TwiML — the same single-use token, no second session. The
 *   key is the (signed) CallSid; `I-Twilio-Idempotency-Token`, outside the signature, only tells
 *   a Twilio retry (the same token as the first request) from another repeat in the metrics;
 * - after that, and for `bridge.call_memory_h` hours from the first request, a repeat is refused;
 * - a CallSid Twilio reported over (a final status callback, on any replica) is refused too;
 * - a store that does not answer (Redis lost) refuses: a replica that cannot tell a new call from
 *   a replay fails closed for webhooks that would open a session (the caller hears the busy message).
 *
 * Refusals are answered with TwiML that opens nothing (the busy message, then `<Hangup/>`); the
 * answer goes to whoever sent the request, so it never touches the real call. Each is counted
 * (`bridge_webhook_rejected_total{route,reason}`) and logged at most once per reason per interval.
 */
import { hangupTwiml } from '../../twilio/twiml.js';
import type { BridgeContext } from '../context.js';

/**
 * How long the first answer is held for a repeat. Twilio retries a webhook only after it timed
 * out (15 s by default, at most a few attempts with connection overrides): two minutes cover
 * that; the token inside has expired long before anyway (media_stream.token_ttl_s).
 */
export const ANSWER_MEMORY_MS = 120_000;
/** How long a repeat waits for the first request's answer while that one is still being made. */
const PENDING_WAIT_MS = 5000;
const PENDING_POLL_MS = 100;
/** one log line per refusal reason per this long: a replay flood must not flood the log */
const LOG_EVERY_MS = 10_000;

/** The session-opening webhooks; each keeps its own claim (an IVR call's menu is not its agent's answer). */
export type SessionRoute = 'voice' | 'ivr' | 'outbound';

const lastLog = new WeakMap<BridgeContext, Map<string, number>>();

/** How long a CallSid is remembered after its first session-opening webhook or its final status. */
export function callMemoryMs(ctx: BridgeContext): number {
  return ctx.settings.call_memory_h * 3_600_000;
}

/** A refused webhook: counted, logged (rate-limited), answered with TwiML that opens nothing. */
function refuse(ctx: BridgeContext, route: SessionRoute, callSid: string, reason: string): string {
  ctx.metrics.webhooksRejected.inc({ route: `/twilio/${route}`, reason });
  let seen = lastLog.get(ctx);
  if (!seen) lastLog.set(ctx, (seen = new Map<string, number>()));
  const now = Date.now();
  const key = `${route} ${reason}`;
  if (now - (seen.get(key) ?? 0) >= LOG_EVERY_MS) {
    seen.set(key, now);
    ctx.logger.warn({ route: `/twilio/${route}`, callSid, reason }, 'webhook refused: no session opened for this call');
  }
  return hangupTwiml(reason === 'store_unavailable' ? ctx.settings.busy_message : undefined);
}

/**
 * Answers a session-opening webhook once per call: `answer` runs only for the request that
 * claimed the call, and its TwiML is what every retry within ANSWER_MEMORY_MS gets.
 */
export async function answerOnce(
  ctx: BridgeContext,
  route: SessionRoute,
  callSid: string,
  idempotencyToken: string | undefined,
  answer: () => Promise<string>,
): Promise<string> {
  const store = ctx.registry.store;
  let seen = await store.claimCall(route, callSid, callMemoryMs(ctx));
  if (!seen) return refuse(ctx, route, callSid, 'store_unavailable');
  if (seen.state === 'ended') return refuse(ctx, route, callSid, 'call_ended');
  // Claimed, but the first request has not answered yet: wait for its answer (bounded).
  for (let waited = 0; seen.state === 'seen' && waited < PENDING_WAIT_MS; waited += PENDING_POLL_MS) {
    await new Promise((r) => setTimeout(r, PENDING_POLL_MS));
    seen = (await store.claimCall(route, callSid, callMemoryMs(ctx))) ?? seen;
  }
  if (seen.state === 'ended') return refuse(ctx, route, callSid, 'call_ended');
  if (seen.state === 'answered') {
    const first = readSaved(seen.twiml);
    // Twilio's retry repeats the first request's I-Twilio-Idempotency-Token. The header is not
    // signed (a replay can copy or drop it), so it only names the repeat in the log and metric:
    // both get the first answer.
    const retry = idempotencyToken !== undefined && idempotencyToken === first.idem;
    ctx.metrics.webhooksRejected.inc({ route: `/twilio/${route}`, reason: retry ? 'twilio_retry' : 'repeated' });
    ctx.logger.info({ route: `/twilio/${route}`, callSid, retry }, 'repeated webhook: answered as the first time');
    return first.twiml;
  }
  if (seen.state === 'seen') return refuse(ctx, route, callSid, 'call_already_answered');
  const twiml = await answer();
  await store.saveAnswer(route, callSid, JSON.stringify({ twiml, idem: idempotencyToken }), ANSWER_MEMORY_MS);
  return twiml;
}

/** A saved first answer: its TwiML and the idempotency token its request carried. */
function readSaved(saved: string): { twiml: string; idem?: string } {
  try {
    const v = JSON.parse(saved) as { twiml?: unknown; idem?: unknown };
    if (typeof v.twiml === 'string') return { twiml: v.twiml, ...(typeof v.idem === 'string' ? { idem: v.idem } : {}) };
  } catch {
    // not ours: fall through
  }
  return { twiml: hangupTwiml() };
}

/** The `I-Twilio-Idempotency-Token` of a webhook, when it has a sane one. */
export function idempotencyTokenOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers['i-twilio-idempotency-token'];
  return typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(v) ? v : undefined;
}

/** Whether a webhook names a call Twilio reported over (then refused); a store that does not answer does not refuse here. */
export async function refuseEnded(
  ctx: BridgeContext,
  route: SessionRoute,
  callSid: string,
): Promise<string | undefined> {
  if ((await ctx.registry.hasEndedAtTwilio(callSid)) !== true) return undefined;
  return refuse(ctx, route, callSid, 'call_ended');
}
