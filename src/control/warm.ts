import type { HoldPlayer } from '../audio/index.js';
import type { WarmHandoff } from '../call/leg.js';
import type { CallControlPort } from '../call/types.js';
import type { TransferTarget } from '../config/schema.js';
import { fillWhisper } from './whisper.js';
import { sendTransferContext } from './send-context.js';

/** A warm transfer the controller decided on (the target is one of the agent's, resolved). */
export interface WarmStart {
  target: TransferTarget;
  usedDefault: boolean;
  callId: string | undefined;
  reason: string | undefined;
  destination: string | undefined;
  /** the id the context webhook and the dial carry */
  contextId: string;
  /** an operator's transfer: who asked */
  operator?: string;
}

export type WarmRun =
  /** the call ended meanwhile (the caller hung up): nothing is left to answer */
  'ended' | { ok: true; output: Record<string, unknown> } | { ok: false; why: string; output: Record<string, unknown> };

/**
 * One warm transfer on a leg that can do them (leg.warm): the whisper is filled, the caller put
 * on the agent's hold audio, the human dialled; accepted, the leg moves the caller to them. The
 * caller stays on the agent's stream until then, so a refusal needs no restart and loses nothing
 * of the conversation, and the whisper is never in the caller's media (docs/decisions.md).
 */
export async function runWarmTransfer(
  s: CallControlPort,
  start: WarmStart,
  o: {
    collected: ReadonlyMap<string, string>;
    args: Readonly<Record<string, unknown>> | undefined;
    hold: HoldPlayer;
    onAccepted(): void;
    /** false once the call ended under the attempt (the controller's dispose) */
    stillPending(): boolean;
  },
): Promise<WarmRun> {
  const warm = s.leg.warm!;
  const t = start.target;
  const { warmTransfers, warmWait } = s.deps.metrics;
  const whisper = fillWhisper(t, {
    agent: s.agent.id,
    target: t.name,
    from: s.info.from,
    reason: start.reason,
    destination: start.destination,
    args: o.args,
    collected: o.collected,
    turns: s.memory.all(),
  });
  const handoff: WarmHandoff = {
    whisper,
    ...(t.accept_key ? { acceptKey: t.accept_key } : {}),
    ringTimeoutS: t.ring_timeout_s ?? s.agent.transfer.timeout_s,
    // Carried with the dial only when a context webhook gives it a meaning for the receiver.
    ...(s.agent.transfer.context_webhook ? { contextId: start.contextId } : {}),
  };
  s.record.transfer({ mode: 'warm', target: t.name, result: 'calling', contextId: start.contextId, whisper });
  // The whisper is customer data: its length is logged, not its words.
  s.log.info(
    { target: t.name, contextId: start.contextId, acceptKey: Boolean(t.accept_key), whisperChars: whisper.length },
    'warm transfer: calling the human, the caller on hold',
  );
  s.playback.startHold(o.hold);
  const t0 = Date.now();
  // The desktop gets the context while the human's phone rings (never waited for).
  sendTransferContext(s, {
    contextId: start.contextId,
    mode: 'warm',
    target: t,
    usedDefault: start.usedDefault,
    reason: start.reason,
    destination: start.destination,
    whisper,
    ...(start.operator !== undefined ? { operator: start.operator } : {}),
    args: o.args,
    collected: o.collected,
  });
  let out = await warm.warmTransfer(t, handoff);
  const waited = () => Date.now() - t0;
  // when the whisper began, on the record's clock
  if (out.answeredAt !== undefined)
    s.record.transfer({ answeredAtMs: Math.max(0, s.record.sinceStart() - (Date.now() - out.answeredAt)) });
  if (s.isEnded || !o.stillPending()) {
    warmTransfers.inc({ target: t.name, result: 'caller_hangup' });
    warmWait.observe({ target: t.name, accepted: 'false' }, waited() / 1000);
    return 'ended';
  }
  if (out.accepted) {
    const waitMs = waited();
    o.onAccepted();
    const moved = await warm.bridgeCaller();
    if (moved.ok) {
      s.record.transfer({ result: 'accepted', acceptedAtMs: s.record.sinceStart(), callerWaitMs: waitMs });
      warmTransfers.inc({ target: t.name, result: 'accepted' });
      warmWait.observe({ target: t.name, accepted: 'true' }, waitMs / 1000);
      s.log.info({ target: t.name, waitMs }, 'warm transfer accepted: caller connected to the human');
      return {
        ok: true,
        output: { status: 'transferred', mode: 'warm', destination: t.name, used_default: start.usedDefault },
      };
    }
    out = { accepted: false, why: 'rest_error', message: moved.message };
  }
  s.playback.stopHold();
  const waitMs = waited();
  s.record.transfer({ result: out.why, callerWaitMs: waitMs });
  warmTransfers.inc({ target: t.name, result: out.why });
  warmWait.observe({ target: t.name, accepted: 'false' }, waitMs / 1000);
  s.log.info({ target: t.name, why: out.why, waitMs }, 'warm transfer not accepted: the call stays with the agent');
  return {
    ok: false,
    why: out.why,
    output: { error: `transfer_failed: ${out.message}`.slice(0, 200), mode: 'warm', human: out.why },
  };
}
