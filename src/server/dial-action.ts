import type { ParkedCall } from '../store/fleet-store.js';
import type { BridgeContext } from './context.js';

type Parked = ParkedCall;

/** How long a dial-action waits for the transferring session to finish handing the call off. */
const HANDOFF_WAIT_MS = 2000;

export type DialActionCheck =
  | { ok: true; parked: Parked }
  | { ok: false; reason: 'call_ended' | 'call_has_live_session' | 'no_transfer_in_progress' };

/**
 * Whether a `<Dial action>` request fits the call's state. Only a call the bridge handed to a
 * human — parked by its session's `transferred` end, not reported over by a final status
 * callback, and with no live session — may come back to an agent; anything else (a replayed or
 * forged dial-action, one for a call that ended, a second one for the same transfer) must never
 * reopen an engine session. Consumes the parked entry: a transfer comes back at most once.
 */
export async function checkDialAction(ctx: BridgeContext, callSid: string): Promise<DialActionCheck> {
  const live = ctx.registry.get(callSid);
  // The REST <Dial> is accepted before the session ends itself: let it finish the hand-off.
  if (live && !live.isEnded && live.control.pendingOutcome === 'transferred') {
    const t0 = Date.now();
    while (ctx.registry.get(callSid) === live && !live.isEnded && Date.now() - t0 < HANDOFF_WAIT_MS) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  if (await ctx.registry.hasEndedAtTwilio(callSid)) return { ok: false, reason: 'call_ended' };
  const current = ctx.registry.get(callSid);
  if (current && !current.isEnded) return { ok: false, reason: 'call_has_live_session' };
  const store = ctx.registry.store;
  if (store.shared) {
    const owner = await store.lookup(callSid);
    if (owner && owner.replica !== store.replicaId) return { ok: false, reason: 'call_has_live_session' };
  }
  const parked = await ctx.registry.unpark(callSid);
  if (!parked) return { ok: false, reason: 'no_transfer_in_progress' };
  if (parked.reason !== 'transfer') {
    // A call being moved between replicas: not a transfer coming back; its context stays for its stream.
    await store.park(parked, 60_000);
    return { ok: false, reason: 'no_transfer_in_progress' };
  }
  return { ok: true, parked };
}
