import type { CallSession } from '../../call/session.js';
import { agentStreamTwiml } from '../../twilio/stream-twiml.js';
import type { BridgeContext } from '../context.js';

/** A moved call's context outlives the hand-over by this much (the stream must start within the token's life anyway). */
const MOVE_CONTEXT_EXTRA_MS = 60_000;

/**
 * A draining replica of a fleet moves its live calls instead of waiting them out: for each,
 * the conversation goes to the store, a REST update points the call at new `<Connect><Stream>`
 * TwiML (a short hold line first, so the caller hears words rather than dead air) whose stream
 * any replica may answer, and the session here ends as `moved`. The replica that gets the
 * stream resumes the agent with the conversation, as transfer-return does (registry.attachShared).
 *
 * Returns the calls it could not move (no stream yet, already ending, REST refused): the
 * caller's drain handles those as before.
 */
export async function moveCalls(ctx: BridgeContext): Promise<CallSession[]> {
  const { registry, rest, logger, metrics } = ctx;
  const store = registry.store;
  const all = registry.list();
  if (!store.shared || !rest || store.health() !== 'ok') return all;
  const moveMessage = ctx.settings.fleet.move_message;
  const note =
    'The call was moved to another server for maintenance; the caller just heard "' +
    moveMessage +
    '". Do not greet again: continue the conversation where it left off, and answer what the caller says next.';
  const results = await Promise.all(
    all.map(async (s) => {
      if (s.isEnded || !s.hasStream || s.control.busy) return s;
      await store.park(registry.parkedOf(s, 'moved', note), ctx.streamTokens.ttlMs + MOVE_CONTEXT_EXTRA_MS);
      const token = ctx.streamTokens.mint(s.callSid, {
        purpose: 'restart',
        agent: s.agent.id,
        from: s.info.from,
        to: s.info.to,
      });
      const res = await rest.updateCallTwiml(
        s.callSid,
        agentStreamTwiml(ctx.config.env.publicUrl, ctx.settings, { token, say: moveMessage }),
      );
      if (!res.ok) {
        await store.dropParked(s.callSid);
        logger.warn(
          { callSid: s.callSid, status: res.status, code: res.code },
          'drain: moving the call failed (REST update refused); it stays here',
        );
        metrics.transfers.inc({ ...s.labels, result: 'move_failed' });
        return s;
      }
      // Twilio has replaced the call's TwiML: this stream is over, the next one goes elsewhere.
      logger.info({ callSid: s.callSid }, 'drain: call moved to another replica');
      metrics.transfers.inc({ ...s.labels, result: 'moved' });
      s.end('moved');
      return undefined;
    }),
  );
  return results.filter((s): s is CallSession => !!s);
}
