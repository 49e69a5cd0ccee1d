import type { ParkedCall } from '../../store/fleet-store.js';
import type { BridgeContext } from '../context.js';

type Parked = ParkedCall;

/** How long a dial-action waits for the transferring session to finish handing the call off. */
const HANDOFF_WAIT_MS = 2000;

export type DialActionCheck =
  | { ok: true; parked: Parked }
  | {
      ok: false;
      reason:
        'call_ended' | 'call_has_live_session' | 'no_transfer_in_progress' | 'stale_dial_action' | 'store_unavailable';
    };

/** A transfer's `<Dial action>` nonce: 16 random bytes, base64url (the TwiML builder's, controller.ts). */
const NONCE_RE = /^[A-Za-z0-9_-]{22}$/;
/** what a dial-action without a well-formed nonce is matched with: never any park's */
const NO_NONCE = '-';

/**
 * Whether a `<Dial action>` request fits the call's state. Only a call the bridge handed to a
 * human — parked by its session's `transferred` end, not reported over by a final status
 * callback, and with no live session — may come back to an agent; anything else (a replayed or
 * forged dial-action, one for a call that ended, a second one for the same transfer) must never
 * reopen an engine session. Consumes the parked entry: a transfer comes back at most once.
 *
 * Each transfer's `<Dial action>` URL carries a one-time nonce, parked with the call: a request
 * takes the park only if its (signed) URL names that park's nonce. A dial-action captured during
 * one transfer and replayed during the same call's next one names the old nonce and never matches
 * the new park, which stays for the real dial-action ('stale_dial_action').
 */
export async function checkDialAction(
  ctx: BridgeContext,
  callSid: string,
  nonce: string | undefined,
): Promise<DialActionCheck> {
  const live = ctx.registry.get(callSid);
  // The REST <Dial> is accepted before the session ends itself: let it finish the hand-off.
  if (live && !live.isEnded && live.control.pendingOutcome === 'transferred') {
    const t0 = Date.now();
    while (ctx.registry.get(callSid) === live && !live.isEnded && Date.now() - t0 < HANDOFF_WAIT_MS) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const ended = await ctx.registry.hasEndedAtTwilio(callSid);
  if (ended === undefined) return { ok: false, reason: 'store_unavailable' };
  if (ended) return { ok: false, reason: 'call_ended' };
  const current = ctx.registry.get(callSid);
  if (current && !current.isEnded) return { ok: false, reason: 'call_has_live_session' };
  const store = ctx.registry.store;
  if (store.shared) {
    const owner = await store.lookup(callSid);
    if (owner && owner.replica !== store.replicaId) return { ok: false, reason: 'call_has_live_session' };
  }
  const parked = await store.unparkIf(callSid, 'transfer', nonce && NONCE_RE.test(nonce) ? nonce : NO_NONCE);
  if (!parked) return { ok: false, reason: 'no_transfer_in_progress' };
  if (parked === 'stale') return { ok: false, reason: 'stale_dial_action' };
  return { ok: true, parked };
}
