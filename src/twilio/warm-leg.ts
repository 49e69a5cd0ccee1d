import { randomBytes } from 'node:crypto';
import type { LegCall, LegResult, WarmCapable, WarmHandoff, WarmOutcome } from '../call/leg.js';
import type { TransferTarget } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { TwilioRest } from './rest.js';
import { CONTEXT_PARAMETER, sipWithContext } from './twiml.js';
import { conferenceName, joinConferenceTwiml, refusedTwiml, whisperTwiml } from './warm-twiml.js';

/** What a warm transfer needs from the bridge. */
export interface TwilioWarmServices {
  readonly rest?: TwilioRest;
  readonly publicUrl: string;
}

/** Where a human's callback goes, relative to PUBLIC_URL (the routes: src/server/routes/warm.ts). */
export const WARM_ACCEPT_PATH = '/twilio/warm/accept';
export const WARM_STATUS_PATH = '/twilio/warm/status';

/** Seconds the human has to press the accept key after the whisper. */
const ACCEPT_TIMEOUT_S = 8;
/** Past the ring time, the whisper and the key, this much more before the bridge gives up on callbacks. */
const CALLBACK_SLACK_MS = 20_000;

/** Why a human-leg callback was refused (counted per route and reason). */
export type WarmRejection = 'no_warm_transfer' | 'stale_warm_callback' | 'wrong_call' | 'replayed';

type Phase = 'dialling' | 'answered' | 'accepted';

interface Attempt {
  nonce: string;
  /** known once the REST create answered; a callback before then cannot be bound, so is refused */
  humanSid: string | undefined;
  phase: Phase;
  /** when the human's leg reported in-progress (epoch ms): the whisper starts */
  answeredAt?: number;
  handoff: WarmHandoff;
  settle(o: WarmOutcome): void;
  timer: NodeJS.Timeout;
}

/** Twilio's final CallStatus of the human's leg, as the reason the caller stays with the agent. */
const NOT_ACCEPTED: Record<string, Extract<WarmOutcome, { accepted: false }>['why']> = {
  busy: 'busy',
  'no-answer': 'no_answer',
  failed: 'failed',
  canceled: 'canceled',
  completed: 'refused',
};

/**
 * The `To` of the human's leg: Twilio's Calls API takes E.164, `sip:` and `client:` addresses.
 * The context id travels where the address can carry it: a client's custom parameter
 * (`client:alice?context_id=…`, the REST form of `<Client><Parameter>`), a SIP custom header
 * (`?X-Context-Id=…`, sent on the INVITE); a number cannot carry one.
 */
function addressOf(t: TransferTarget, contextId: string | undefined): string {
  if (t.kind === 'client') {
    const client = t.value.startsWith('client:') ? t.value : `client:${t.value}`;
    return contextId === undefined ? client : `${client}?${CONTEXT_PARAMETER}=${encodeURIComponent(contextId)}`;
  }
  if (t.kind === 'sip') return sipWithContext(t.value, contextId);
  return t.value;
}

/**
 * A Twilio call's warm transfer: the human is called through the REST API with TwiML that says the
 * whisper (and asks for the accept key) on their leg only; the caller stays on the agent's stream,
 * on hold, until the human accepts, then both join a conference named after the caller's CallSid.
 *
 * Each attempt has a one-time nonce in its callback URLs (which Twilio signs, like every webhook):
 * a callback is taken only with the current attempt's nonce and from the human's own CallSid, and
 * an accept only once. A replayed or forged one is refused (WarmRejection) and changes nothing.
 */
export class TwilioWarm implements WarmCapable {
  private attempt: Attempt | undefined;
  /** nonces of this call's finished attempts: a callback naming one is a replay */
  private readonly finished = new Set<string>();
  /** the human's CallSid of the last accepted attempt (bridgeCaller may still need to end it) */
  private acceptedHuman: string | undefined;

  constructor(
    private readonly call: LegCall,
    private readonly services: TwilioWarmServices,
    private readonly log: Logger,
  ) {}

  async warmTransfer(target: TransferTarget, handoff: WarmHandoff): Promise<WarmOutcome> {
    const rest = this.services.rest;
    if (!rest) return { accepted: false, why: 'rest_error', message: 'Twilio REST credentials are not configured' };
    const from = this.call.agent.transfer.caller_id ?? this.call.to;
    if (!from || !/^\+[1-9]\d{6,14}$/.test(from))
      return { accepted: false, why: 'failed', message: 'no caller id for the human leg (set transfer.caller_id)' };
    this.abandon(); // at most one attempt per call
    const nonce = randomBytes(16).toString('base64url');
    const q = `call=${this.call.callSid}&nonce=${nonce}`;
    const base = this.services.publicUrl;
    let settle!: (o: WarmOutcome) => void;
    const outcome = new Promise<WarmOutcome>((r) => (settle = r));
    // Lost callbacks must not keep the caller on hold forever: the whole attempt is bounded.
    const boundMs =
      handoff.ringTimeoutS * 1000 + handoff.whisper.length * 100 + (ACCEPT_TIMEOUT_S + 5) * 1000 + CALLBACK_SLACK_MS;
    const a: Attempt = {
      nonce,
      humanSid: undefined,
      phase: 'dialling',
      handoff,
      settle: (o) => {
        if (this.attempt !== a) return;
        clearTimeout(a.timer);
        this.attempt = undefined;
        this.finished.add(a.nonce);
        settle(a.answeredAt !== undefined ? { ...o, answeredAt: a.answeredAt } : o);
      },
      timer: setTimeout(() => {
        this.log.warn({ phase: a.phase }, 'warm transfer: no word from the human leg in time; giving up');
        this.endHuman(a);
        a.settle({ accepted: false, why: 'timeout', message: 'the human leg did not answer in time' });
      }, boundMs),
    };
    a.timer.unref();
    this.attempt = a;
    const res = await rest.createCall({
      to: addressOf(target, handoff.contextId),
      from,
      twiml: whisperTwiml({
        whisper: handoff.whisper,
        ...(handoff.acceptKey ? { acceptKey: handoff.acceptKey } : {}),
        acceptUrl: `${base}${WARM_ACCEPT_PATH}?${q}`,
        acceptTimeoutS: ACCEPT_TIMEOUT_S,
      }),
      statusCallback: `${base}${WARM_STATUS_PATH}?${q}`,
      statusCallbackEvent: ['answered', 'completed'],
      timeout: handoff.ringTimeoutS,
    });
    if (!res.ok || !res.callSid) {
      a.settle({ accepted: false, why: 'rest_error', message: res.ok ? 'no CallSid' : res.message });
    } else if (this.attempt === a) {
      a.humanSid = res.callSid;
      this.log.info({ humanSid: res.callSid, target: target.name }, 'warm transfer: human leg created');
    } else {
      // The attempt ended (the caller hung up) while the create was in flight: end the new leg.
      void this.endHumanSid(res.callSid, 'dialling');
    }
    return outcome;
  }

  async bridgeCaller(): Promise<LegResult> {
    const rest = this.services.rest;
    if (!rest) return { ok: false, message: 'Twilio REST credentials are not configured' };
    const res = await rest.updateCallTwiml(
      this.call.callSid,
      joinConferenceTwiml({ name: conferenceName(this.call.callSid), side: 'caller' }),
    );
    if (res.ok) return { ok: true };
    // The human is in the conference by now, waiting for nobody: end their leg.
    const human = this.acceptedHuman;
    if (human) void this.endHumanSid(human, 'answered');
    return { ok: false, message: res.message };
  }

  cancelWarm(): void {
    const a = this.attempt;
    if (!a) return;
    this.log.info({ phase: a.phase }, 'warm transfer: the caller left; ending the human leg');
    this.endHuman(a);
    a.settle({ accepted: false, why: 'canceled', message: 'the caller hung up' });
  }

  /**
   * The human's keys (or, without an accept key, the whisper's end): the TwiML their leg runs
   * next, or a refusal of the callback. `digits` undefined: no key was asked for.
   */
  onAccept(nonce: string | undefined, humanSid: string, digits: string | undefined): { twiml: string } | WarmRejection {
    const a = this.check(nonce, humanSid);
    if (typeof a === 'string') return a;
    const key = a.handoff.acceptKey;
    if (key !== undefined && digits !== key) {
      this.log.info({ pressed: digits ? 'other_key' : 'none' }, 'warm transfer: the human refused');
      a.settle({ accepted: false, why: 'refused', message: 'the human did not accept the call' });
      return { twiml: refusedTwiml() };
    }
    a.phase = 'accepted';
    a.answeredAt ??= Date.now(); // the answered callback may come after the accept (out of order)
    this.acceptedHuman = humanSid;
    a.settle({ accepted: true });
    return { twiml: joinConferenceTwiml({ name: conferenceName(this.call.callSid), side: 'human' }) };
  }

  /** A status callback of the human's leg: answered, or its end before an accept. */
  onStatus(nonce: string | undefined, humanSid: string, status: string): WarmRejection | undefined {
    const a = this.check(nonce, humanSid);
    // An accepted attempt is finished: its leg's own end (the conversation is over) is expected.
    if (a === 'replayed' && status === 'completed') return undefined;
    if (typeof a === 'string') return a;
    if (status === 'in-progress') {
      a.phase = 'answered';
      a.answeredAt ??= Date.now();
      return undefined;
    }
    const why = NOT_ACCEPTED[status];
    if (!why) return undefined; // queued, ringing…: nothing to do
    // Answered and hung up without accepting is a refusal; never answered is the ring's outcome.
    a.settle({
      accepted: false,
      why,
      message: why === 'refused' ? 'the human hung up without accepting' : `the human's line: ${status}`,
    });
    return undefined;
  }

  private check(nonce: string | undefined, humanSid: string): Attempt | WarmRejection {
    const a = this.attempt;
    if (nonce && this.finished.has(nonce)) return 'replayed';
    if (!a) return 'no_warm_transfer';
    if (nonce !== a.nonce) return 'stale_warm_callback';
    if (a.humanSid === undefined || humanSid !== a.humanSid) return 'wrong_call';
    return a;
  }

  /** Ends the current attempt (a new one starts, or the call is over) without waiting on it. */
  private abandon(): void {
    const a = this.attempt;
    if (!a) return;
    this.endHuman(a);
    a.settle({ accepted: false, why: 'canceled', message: 'superseded' });
  }

  private endHuman(a: Attempt): void {
    if (a.humanSid) void this.endHumanSid(a.humanSid, a.phase);
  }

  /** Ringing: `canceled`; answered (whispering): `completed`. Both when unsure; "not found" is done. */
  private async endHumanSid(sid: string, phase: Phase): Promise<void> {
    const rest = this.services.rest;
    if (!rest) return;
    if (phase === 'dialling') {
      const c = await rest.cancel(sid);
      if (c.ok && c.alreadyEnded) return;
    }
    const h = await rest.hangup(sid);
    if (!h.ok) this.log.warn({ humanSid: sid, message: h.message }, 'warm transfer: ending the human leg failed');
  }
}
