import { randomBytes } from 'node:crypto';
import type { LegCall, LegResult, TelephonyLeg } from '../call/leg.js';
import type { TransferTarget } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { TwilioRest } from './rest.js';
import { mediaStreamUrl, streamParameters } from './stream-twiml.js';
import { dialTwiml, enqueueTwiml, hangupTwiml, playDigitsThenStreamTwiml } from './twiml.js';
import { TwilioWarm } from './warm-leg.js';

/** A stream the bridge restarts itself (`<Play digits>`) is waited for this long. */
const RESTART_WAIT_MS = 15_000;

/** What the Twilio leg needs from the bridge beyond the call. */
export interface TwilioLegServices {
  /** absent: no REST credentials, so no call control (the session then only releases its stream) */
  readonly rest?: TwilioRest;
  readonly publicUrl: string;
  /** mints the token a bridge-requested stream restart carries (src/twilio/stream-token.ts) */
  readonly streamTokens: {
    mint(
      callSid: string,
      claims: { purpose: 'restart'; agent: string; from?: string; to?: string },
      extraMs: number,
    ): string;
  };
}

/**
 * A Twilio call's control: TwiML pushed through the REST API (dial, enqueue, say-and-hang-up,
 * `<Play digits>` then a new stream) and `Status=completed`. Its media are the call's Media
 * Streams (media-out.ts). Hangs up at most once per call; "not found" is "already over".
 */
export class TwilioLeg implements TelephonyLeg {
  private hungUp = false;
  private restartUntil = 0;
  /** the nonce of this call's last `<Dial action>` URL, parked with the call (dial-action.ts) */
  private dialNonce: string | undefined;
  /** warm transfers: the human called with a whisper, then a conference (warm-leg.ts) */
  readonly warm: TwilioWarm;

  constructor(
    private readonly call: LegCall,
    private readonly services: TwilioLegServices,
    private readonly log: Logger,
  ) {
    this.warm = new TwilioWarm(call, services, log);
  }

  get unavailable(): string | undefined {
    return this.services.rest ? undefined : 'Twilio REST credentials are not configured';
  }

  get resumeKey(): string | undefined {
    return this.dialNonce;
  }

  mediaRestartMs(): number {
    const left = this.restartUntil - Date.now();
    return left > 0 ? left : 0;
  }

  mediaAttached(): void {
    this.restartUntil = 0;
  }

  async hangup(): Promise<void> {
    if (this.hungUp) return;
    this.hungUp = true;
    const rest = this.services.rest;
    if (!rest) {
      this.log.warn('no Twilio REST credentials: releasing the stream instead of a REST hang-up');
      return;
    }
    const res = await rest.hangup(this.call.callSid);
    if (!res.ok) this.log.error({ status: res.status, code: res.code, message: res.message }, 'REST hang-up failed');
    else if (res.alreadyEnded) this.log.info('call already ended at Twilio');
  }

  /** `<Say>` then `<Hangup>` in place of the stream; a refused update falls back to a plain hang-up. */
  async hangupWithMessage(message: string): Promise<void> {
    const rest = this.services.rest;
    if (!rest) return;
    const res = await rest.updateCallTwiml(this.call.callSid, hangupTwiml(message));
    this.hungUp = res.ok;
    if (!res.ok) await this.hangup();
  }

  async transfer(target: TransferTarget, o: { contextId?: string } = {}): Promise<LegResult> {
    const rest = this.services.rest;
    if (!rest) return { ok: false, message: this.unavailable! };
    const res = await rest.updateCallTwiml(this.call.callSid, this.transferTwiml(target, o.contextId));
    return res.ok ? { ok: true } : { ok: false, message: res.message };
  }

  private transferTwiml(target: TransferTarget, contextId: string | undefined): string {
    const { agent } = this.call;
    const t = agent.transfer;
    if (target.kind === 'queue') return enqueueTwiml({ queue: target.value, waitUrl: t.queue_wait_url });
    // A fresh nonce per transfer: a dial-action replayed from an earlier transfer never matches this one's park.
    this.dialNonce = randomBytes(16).toString('base64url');
    const action = `${this.services.publicUrl}/twilio/dial-action?agent=${encodeURIComponent(agent.id)}&target=${encodeURIComponent(target.name)}&nonce=${this.dialNonce}`;
    return dialTwiml({
      target: { kind: target.kind, value: target.value },
      callerId: t.caller_id,
      timeout: t.timeout_s,
      answerOnBridge: t.answer_on_bridge,
      action,
      ...(contextId !== undefined ? { contextId } : {}),
    });
  }

  /** `<Play digits>` then a new `<Connect><Stream>`: the engine session survives the restart. */
  async sendDigits(digits: string): Promise<LegResult> {
    const rest = this.services.rest;
    if (!rest) return { ok: false, message: this.unavailable! };
    const { callSid, agent, from, to } = this.call;
    // From here a `stop` is the restart, not the caller hanging up.
    this.restartUntil = Date.now() + RESTART_WAIT_MS;
    const twiml = playDigitsThenStreamTwiml({
      digits,
      streamUrl: mediaStreamUrl(this.services.publicUrl),
      // A restart the bridge asked for: its token may replace the stream this update stops.
      parameters: streamParameters(
        this.services.streamTokens.mint(
          callSid,
          { purpose: 'restart', agent: agent.id, from, to },
          // The stream opens once the digits have played: at most a second each (`W` is a 1 s pause).
          digits.length * 1000,
        ),
      ),
    });
    const res = await rest.updateCallTwiml(callSid, twiml);
    if (res.ok) return { ok: true };
    this.restartUntil = 0;
    return { ok: false, message: res.message };
  }
}
