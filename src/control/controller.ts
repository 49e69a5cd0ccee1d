import { generateDtmf, HoldPlayer } from '../audio/index.js';
import { normalizeSendDigits, SEND_DIGITS_RULE } from '../audio/dtmf-digits.js';
import type { OmniEvent } from '../omni/events.js';
import type { CallControlPort } from '../call/types.js';
import type { CallOutcome, FallbackReason } from '../call/outcome.js';
import { DigitCollector } from './collect.js';
import { resolveTarget } from './targets.js';
import { runWarmTransfer, type WarmStart } from './warm.js';
import type { TraceSpan } from '../observability/tracing.js';
import { sendTransferContext } from './send-context.js';
import { randomUUID } from 'node:crypto';

type Verb = Extract<OmniEvent, { type: 'transfer_to_human' | 'send_dtmf' | 'play_hold' | 'collect' | 'end_call' }>;

/**
 * The engine's call-control verbs, carried out on the call's telephony leg (omni-protocol.md §7;
 * the leg: src/call/leg.ts). Every verb logs one line, counts one metric and, when it carried a
 * `call_id`, answers the agent with a `tool_result`. The carrier refusing an action is an answer
 * for the agent, never a crash. A verb that ends the call (transfer, end_call, a fallback) owns
 * the call from then on.
 */
export class CallControl {
  private owner: string | undefined;
  /** how the call ends if its stream stops now (see pendingOutcome) */
  private outcome: CallOutcome | undefined;
  private collector: DigitCollector | undefined;
  private hold: HoldPlayer | undefined;
  /** the last value collected per `collect` field (a warm transfer's whisper may name them) */
  private readonly collected = new Map<string, string>();
  /** a warm transfer is dialling or whispering to the human: a hang-up meanwhile ends their leg too */
  private warmPending = false;
  /** the span of each verb running, by verb (its result is set where the verb is done) */
  private readonly verbSpans = new Map<string, TraceSpan>();

  constructor(private readonly s: CallControlPort) {}

  /** Which verb owns the call's ending ('transfer', 'end_call', 'fallback'…), if one does. */
  get ownedBy(): string | undefined {
    return this.owner;
  }

  /** A verb that decides how the call ends is running: nothing else may end it meanwhile. */
  get busy(): boolean {
    return this.owner !== undefined;
  }

  /**
   * How the call ends if its stream stops now. A leg's control request may end the stream, and
   * the stream's end can overtake the request's answer: the verb that sent it still names the outcome.
   */
  get pendingOutcome(): CallOutcome | undefined {
    return this.outcome;
  }

  /** The one place a verb takes or gives back the call; the call's phase follows it. */
  private own(owner: string | undefined, outcome?: CallOutcome): void {
    this.owner = owner;
    this.outcome = owner ? outcome : undefined;
    this.s.verbOwns(owner === undefined ? undefined : owner === 'transfer' ? 'transferring' : 'ending');
  }

  /** Digits are being gathered for the engine (a `collect` verb): the caller, not the agent, is due. */
  get collecting(): boolean {
    return this.collector?.active === true;
  }

  /** Returns true when the bridge consumed the digit itself (a shortcut). */
  onCallerDigit(digit: string): boolean {
    if (this.collector?.active) {
      this.collector.push(digit);
      return false; // still forwarded: the engine hears every key
    }
    // Shortcuts are off while collecting, so an account number containing 0 stays a number.
    const action = this.s.agent.dtmf_shortcuts[digit];
    if (!action || this.owner) return false;
    this.s.log.info({ digit, action }, 'caller DTMF shortcut');
    this.s.record.verb(`shortcut_${digit}`, action);
    if (action === 'transfer') void this.transfer(undefined, undefined, 'caller shortcut', false);
    else void this.hangup(undefined, false, 'caller_shortcut');
    return true;
  }

  onEngineReconnecting(): void {
    // Keep the caller company while the engine comes back: no dead air.
    if (!this.hold) this.hold = new HoldPlayer(this.s.deps.holdFor(this.s.agent.id), 8000);
    this.s.playback.startHold(this.hold);
  }

  onEngineReady(): void {
    if (this.s.playback.holding) this.s.playback.stopHold();
  }

  dispose(): void {
    if (this.warmPending) {
      // The caller left during the whisper: the human must not be connected to nobody.
      this.warmPending = false;
      this.s.leg.warm?.cancelWarm();
      this.s.record.transfer({ result: 'caller_hangup' });
    }
    this.collector?.finish('call_ended');
    this.collector = undefined;
  }

  /**
   * An operator hangs up (admin API, console, through another replica): at once. The agent's
   * words are cut (`clear`), never waited for, and the leg's hang-up goes out immediately.
   * `by` is who asked ('console', 'admin_api'…), kept in the call record.
   */
  operatorHangup(by: string): Promise<void> {
    return this.guarded('operator_hangup', undefined, async () => {
      const s = this.s;
      if (this.owner) return; // FleetCalls answered 409 already; a verb owns the ending
      // From here the stream's end is our doing, and nothing more of the agent is heard.
      this.own('end_call', 'operator_hangup');
      s.playback.silence();
      s.record.operator('hangup', by);
      s.deps.metrics.verbs.inc({ verb: 'operator_hangup', result: 'hanging_up' });
      s.log.info({ by }, 'operator hang-up: the agent is cut off, hanging up now');
      await s.leg.hangup();
      s.end('operator_hangup');
    });
  }

  /**
   * An operator transfers the call (to `destination` if allowed, else the agent's default
   * target) at once: the agent's words are cut, not waited for. `by` is who asked.
   */
  operatorTransfer(destination: string | undefined, by: string): Promise<void> {
    return this.guarded('transfer_to_human', undefined, () =>
      this.transfer(destination, undefined, `operator:${by}`, false, by),
    );
  }

  handleVerb(ev: Verb): Promise<void> {
    return this.guarded(ev.type, ev.callId, () => {
      switch (ev.type) {
        case 'transfer_to_human':
          return this.transfer(ev.destination, ev.callId, ev.reason, true, undefined, ev.raw);
        case 'end_call':
          return this.hangup(ev.callId, true, 'agent_hangup');
        case 'send_dtmf':
          return this.sendDtmf(ev.digits, ev.callId);
        case 'play_hold':
          return this.playHold(ev.seconds, ev.callId);
        case 'collect':
          return this.collect(ev);
      }
    });
  }

  /** Runs a verb; one that throws answers the agent with an error and leaves the call unlocked. */
  private async guarded(verb: string, callId: string | undefined, run: () => Promise<void> | void): Promise<void> {
    // one span per verb, under the call's: a transfer's covers its wait for the agent's words and the dial
    const span = this.s.span.child(`verb ${verb}`, { 'verb.name': verb });
    this.verbSpans.set(verb, span);
    try {
      await run();
      span.end();
    } catch (err) {
      span.end('internal_error');
      this.s.log.error({ verb, err: (err as Error).message }, 'verb failed');
      if (!this.s.isEnded) this.own(undefined); // a failed verb must not keep the call locked
      this.s.deps.metrics.verbs.inc({ verb, result: 'error' });
      this.s.reply(callId, verb, { error: 'internal_error' });
    } finally {
      if (this.verbSpans.get(verb) === span) this.verbSpans.delete(verb);
    }
  }

  private done(verb: string, result: string, callId: string | undefined, output: unknown, extra: object = {}): void {
    this.verbSpans.get(verb)?.set({ 'verb.result': result });
    this.s.log.info({ verb, result, ...extra }, `verb ${verb}: ${result}`);
    this.s.deps.metrics.verbs.inc({ verb, result });
    this.s.record.verb(verb, result);
    this.s.reply(callId, verb, output);
  }

  private async transfer(
    destination: string | undefined,
    callId: string | undefined,
    reason: string | undefined,
    waitForWords: boolean,
    /** who asked, for an operator's transfer: the agent's words are then cut, not waited for */
    operator?: string,
    /** the verb's arguments (a warm transfer's whisper may name them) */
    args?: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const s = this.s;
    const metrics = s.deps.metrics;
    if (this.owner)
      return this.done('transfer_to_human', 'busy', callId, { error: `call is already ending (${this.owner})` });
    const picked = resolveTarget(s.agent, destination);
    if (!picked) {
      metrics.transfers.inc({ ...s.labels, result: 'no_target' });
      return this.done(
        'transfer_to_human',
        'no_target',
        callId,
        { error: 'transfer_failed: no allowed destination and no default target' },
        { destination },
      );
    }
    // The result labels keep their first names (no_rest, rest_error): dashboards count them.
    if (s.leg.unavailable) {
      metrics.transfers.inc({ ...s.labels, result: 'no_rest' });
      return this.done('transfer_to_human', 'no_rest', callId, { error: `transfer_failed: ${s.leg.unavailable}` });
    }
    this.own('transfer');
    if (operator !== undefined) {
      s.playback.silence();
      s.record.operator('transfer', operator);
    } else if (waitForWords) {
      // The agent's "let me transfer you" must be heard; a barge-in over it cancels the transfer.
      const played = await s.playback.whenPlayed(s.agent.transfer.max_wait_for_playback_ms);
      if (played === 'interrupted' || played === 'closed') {
        this.own(undefined);
        metrics.transfers.inc({ ...s.labels, result: 'aborted' });
        return this.done('transfer_to_human', 'aborted', callId, { error: 'transfer_aborted: the caller interrupted' });
      }
    }
    // One id per transfer: the context webhook's, the dial's (<Parameter>, X-Context-Id) and the record's.
    const contextId = randomUUID();
    if (picked.target.mode === 'warm' && s.leg.warm) {
      const start: WarmStart = {
        target: picked.target,
        usedDefault: picked.usedDefault,
        callId,
        reason,
        destination,
        contextId,
        ...(operator !== undefined ? { operator } : {}),
      };
      return this.warm(start, operator, args);
    }
    // Only from here is the stream's end our own doing (before, it is the caller hanging up).
    this.own('transfer', 'transferred');
    s.record.transfer({ mode: 'cold', target: picked.target.name, result: 'started', contextId });
    sendTransferContext(s, {
      contextId,
      mode: 'cold',
      target: picked.target,
      usedDefault: picked.usedDefault,
      reason,
      destination,
      ...(operator !== undefined ? { operator } : {}),
      args,
      collected: this.collected,
    });
    // The id goes with the dial only when a context webhook gives it a meaning for the receiver.
    const res = await s.leg.transfer(picked.target, s.agent.transfer.context_webhook ? { contextId } : {});
    if (!res.ok) {
      // The stream stopped meanwhile: nothing left to continue on, so the call ends from here.
      const goesOn = s.hasStream;
      if (goesOn) this.own(undefined);
      if (operator !== undefined) s.playback.unmute(); // the call goes on with the agent
      metrics.transfers.inc({ ...s.labels, result: 'rest_error' });
      this.done('transfer_to_human', 'rest_error', callId, {
        error: `transfer_failed: ${res.message}`.slice(0, 200),
        ...(res.detail ?? {}),
      });
      if (!goesOn) s.end(s.streamEndOutcome); // a caller who hung up mid-transfer is a caller hang-up
      return;
    }
    metrics.transfers.inc({ ...s.labels, result: 'started' });
    this.done(
      'transfer_to_human',
      'started',
      callId,
      { status: 'transferring', destination: picked.target.name, used_default: picked.usedDefault },
      { target: picked.target.name, kind: picked.target.kind, reason },
    );
    // The engine session ends with the hand-off; a failed dial brings the caller back to a new
    // session that is given this conversation (see the dial-action route).
    s.end('transferred');
  }

  /**
   * A warm transfer (control/warm.ts): the caller waits on hold with the agent while the human
   * hears the whisper; accepted, the call leaves the agent; otherwise it stays with it and the
   * agent is told why (its tool_result), as a refused SIP REFER does.
   */
  private async warm(start: WarmStart, operator: string | undefined, args?: Readonly<Record<string, unknown>>) {
    const s = this.s;
    // An operator's transfer silenced the agent: the caller still hears the hold audio, not dead air.
    if (operator !== undefined) s.playback.unmute();
    if (!this.hold) this.hold = new HoldPlayer(s.deps.holdFor(s.agent.id), 8000);
    this.warmPending = true;
    const out = await runWarmTransfer(s, start, {
      collected: this.collected,
      args,
      hold: this.hold,
      // From the accept on, the stream's end is the hand-off (own outcome 'transferred').
      onAccepted: () => this.own('transfer', 'transferred'),
      stillPending: () => this.warmPending,
    });
    this.warmPending = false;
    if (out === 'ended') return; // the caller hung up meanwhile: dispose() ended the human's leg
    if (out.ok) {
      this.done('transfer_to_human', 'started', start.callId, out.output, {
        target: start.target.name,
        kind: start.target.kind,
        mode: 'warm',
        reason: start.reason,
      });
      s.end('transferred');
      return;
    }
    // The human did not take the call: it goes on with the agent, which is told why.
    this.own(undefined);
    this.done('transfer_to_human', `warm_${out.why}`, start.callId, out.output, {
      target: start.target.name,
      mode: 'warm',
    });
    if (!s.hasStream && !s.isEnded) s.end(s.streamEndOutcome);
  }

  private async hangup(callId: string | undefined, waitForWords: boolean, outcome: CallOutcome): Promise<void> {
    const s = this.s;
    if (this.owner && this.owner !== 'fallback')
      return this.done('end_call', 'busy', callId, { error: `call is already ending (${this.owner})` });
    this.own('end_call');
    if (waitForWords) await s.playback.whenPlayed(s.agent.end_call.max_wait_for_goodbye_ms);
    // A `stop` during the goodbye was the caller hanging up; from the hang-up request on it is ours.
    this.own('end_call', outcome);
    this.done('end_call', 'hanging_up', callId, { status: 'ending' });
    await s.leg.hangup();
    s.end(outcome);
  }

  private async sendDtmf(raw: string, callId: string | undefined): Promise<void> {
    const s = this.s;
    // One rule for both modes (audio/dtmf-digits.ts): what passes here, the leg sends too.
    const digits = normalizeSendDigits(raw);
    if (!digits) return this.done('send_dtmf', 'invalid', callId, { error: `invalid_digits: ${SEND_DIGITS_RULE}` });
    if (s.agent.send_dtmf_mode === 'play_digits' || s.leg.digitsOutOfBand === true)
      return this.sendDtmfByPlay(digits, callId);
    s.playback.pushPcm8k(generateDtmf(digits, 8000));
    const played = await s.playback.whenPlayed(15_000);
    this.done(
      'send_dtmf',
      played,
      callId,
      played === 'played' ? { status: 'sent', digits } : { error: `dtmf_${played}` },
    );
  }

  /** The digits out of band, by the leg (Twilio: `<Play digits>` then a stream restart). */
  private async sendDtmfByPlay(digits: string, callId: string | undefined): Promise<void> {
    const s = this.s;
    if (s.leg.unavailable)
      return this.done('send_dtmf', 'no_rest', callId, { error: `send_dtmf_failed: ${s.leg.unavailable}` });
    await s.playback.whenPlayed(s.agent.end_call.max_wait_for_goodbye_ms);
    const res = await s.leg.sendDigits(digits);
    if (!res.ok)
      return this.done('send_dtmf', 'rest_error', callId, { error: `send_dtmf_failed: ${res.message}`.slice(0, 200) });
    const mode = s.agent.send_dtmf_mode === 'play_digits' ? 'play_digits' : 'out_of_band';
    this.done('send_dtmf', 'sent', callId, { status: 'sent', digits, mode });
  }

  private playHold(seconds: number | undefined, callId: string | undefined): void {
    const secs = seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 600) : undefined;
    if (!this.hold) this.hold = new HoldPlayer(this.s.deps.holdFor(this.s.agent.id), 8000);
    this.s.playback.startHold(this.hold, secs);
    this.done('play_hold', 'holding', callId, { status: 'holding', seconds: secs ?? null });
  }

  private collect(ev: Extract<Verb, { type: 'collect' }>): void {
    if (ev.kind !== 'dtmf') {
      this.done('collect', 'speech_noop', ev.callId, { status: 'listening', field: ev.field, kind: ev.kind });
      return;
    }
    this.collector?.finish('superseded');
    const timeoutMs = ev.timeoutMs && ev.timeoutMs >= 500 && ev.timeoutMs <= 60_000 ? ev.timeoutMs : 5000;
    const numDigits = ev.numDigits && ev.numDigits > 0 && ev.numDigits <= 64 ? ev.numDigits : undefined;
    const finishOnKey = ev.finishOnKey === undefined ? '#' : ev.finishOnKey;
    this.s.log.info({ field: ev.field, numDigits, finishOnKey, timeoutMs }, 'collecting digits');
    this.collector = new DigitCollector({ field: ev.field, numDigits, finishOnKey, timeoutMs }, (r) => {
      if (r.value && this.collected.size < 64) this.collected.set(r.field, r.value);
      // Digits are customer data: the log gets their count, the agent gets the value.
      this.done('collect', r.reason, ev.callId, r, { field: r.field, digits: r.value.length });
    });
  }

  /**
   * The bridge cannot continue the call with the agent (engine refused or lost, drain timeout,
   * maximum duration): run the agent's fallback — a human, or a polite message and a hang-up.
   * Never a silent drop.
   */
  async giveUp(reason: FallbackReason): Promise<void> {
    const s = this.s;
    if (s.isEnded || this.owner) return;
    s.log.warn({ reason, action: s.agent.fallback.action }, 'running the agent fallback');
    s.deps.metrics.verbs.inc({ verb: 'fallback', result: reason });
    s.record.verb('fallback', reason);
    if (s.agent.fallback.action === 'transfer' && !s.leg.unavailable && resolveTarget(s.agent, undefined)) {
      await this.transfer(undefined, undefined, reason, false);
      if (s.isEnded) return;
    }
    this.own('fallback', reason);
    await s.leg.hangupWithMessage(s.agent.fallback.message);
    s.end(reason);
  }
}
