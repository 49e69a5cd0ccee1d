import type { LegListener, LegResult, WarmCapable, WarmHandoff, WarmOutcome } from '../call/leg.js';
import type { TransferTarget } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { speakMulaw8k } from '../speech/telephone.js';

/**
 * A warm transfer on SIP: a second leg to the human (src/sip/b2bua.ts), the whisper spoken to
 * that leg alone (the bridge's offline synthesizer: SIP has no telephony text to speech) while
 * the caller stays on the agent's hold audio, the accept key read from the human's RTP (RFC
 * 4733), then the two legs' RTP joined. A refusal, a busy or silent human, or a caller who leaves
 * ends the human's leg and leaves the caller with the agent.
 */

/** The human's answered leg, not yet joined to the caller. */
export interface HumanLeg {
  /** the human's media: audio and marks out, DTMF in, as a call's media */
  media: {
    start(listener: LegListener): void;
    sendAudio(mulaw: Uint8Array): void;
    sendMark(name: string): void;
    close(): void;
  };
  /** joins the caller's RTP to the human's; from here either side's BYE ends both */
  join(): LegResult;
  /** BYE to the human, media closed */
  hangup(): void;
  /** the human hung up before the join */
  onEnded: (() => void) | undefined;
}

export type DialHuman = (
  uri: string,
  headers: { name: string; value: string }[],
  ringTimeoutMs: number,
) => Promise<{ ok: true; human: HumanLeg } | { ok: false; status: number; message: string }>;

/** After the whisper, how long the human has to press the accept key. */
const ACCEPT_WAIT_MS = 10_000;
/** The whole whisper phase (synthesis, playout, the key) ends by then whatever happens. */
const WHISPER_BOUND_MS = 90_000;

function whyOf(status: number): 'busy' | 'no_answer' | 'failed' {
  if (status === 486 || status === 600) return 'busy';
  if (status === 408 || status === 480 || status === 487) return 'no_answer';
  return 'failed';
}

export class SipWarm implements WarmCapable {
  private human: HumanLeg | undefined;
  private canceled = false;
  /** ends the whisper's wait at once (the caller left) */
  private stopWhisper: (() => void) | undefined;

  constructor(
    private readonly dial: DialHuman,
    private readonly uriOf: (target: TransferTarget) => string | undefined,
    private readonly log: Logger,
  ) {}

  async warmTransfer(target: TransferTarget, handoff: WarmHandoff): Promise<WarmOutcome> {
    const uri = this.uriOf(target);
    if (!uri)
      return { accepted: false, why: 'failed', message: `the target ${target.name} cannot be reached over SIP` };
    const headers = handoff.contextId ? [{ name: 'X-Context-Id', value: handoff.contextId }] : [];
    const r = await this.dial(uri, headers, handoff.ringTimeoutS * 1000);
    if (!r.ok) return { accepted: false, why: whyOf(r.status), message: r.message };
    const answeredAt = Date.now();
    if (this.canceled) {
      r.human.hangup();
      return { accepted: false, why: 'canceled', message: 'the caller hung up', answeredAt };
    }
    this.human = r.human;
    const outcome = await this.whisper(r.human, handoff);
    if (!outcome.accepted) {
      this.human = undefined;
      r.human.hangup();
    }
    return { ...outcome, answeredAt };
  }

  /** Says the whisper to the human alone and waits for their answer to it. */
  private whisper(human: HumanLeg, handoff: WarmHandoff): Promise<WarmOutcome> {
    return new Promise<WarmOutcome>((resolve) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (o: WarmOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearTimeout(bound);
        human.onEnded = undefined;
        this.stopWhisper = undefined;
        resolve(o);
      };
      // however the synthesis and the human fare, the attempt ends
      const bound = setTimeout(
        () => finish({ accepted: false, why: 'timeout', message: 'the whisper did not finish in time' }),
        WHISPER_BOUND_MS,
      );
      this.stopWhisper = () => finish({ accepted: false, why: 'canceled', message: 'the caller hung up' });
      human.onEnded = () => finish({ accepted: false, why: 'refused', message: 'the human hung up' });
      human.media.start({
        onMedia() {},
        onStreamEnded() {},
        onDtmf: (digit) => {
          if (handoff.acceptKey === undefined) return;
          this.log.info({ pressed: digit === handoff.acceptKey ? 'accept_key' : 'other_key' }, 'warm transfer: key');
          finish(
            digit === handoff.acceptKey
              ? { accepted: true }
              : { accepted: false, why: 'refused', message: 'the human did not accept the call' },
          );
        },
        onMark: (name) => {
          if (name !== 'whisper-end') return;
          // hearing the whisper is accepting, unless a key is asked for
          if (handoff.acceptKey === undefined) return finish({ accepted: true });
          timer = setTimeout(
            () => finish({ accepted: false, why: 'timeout', message: 'the human pressed no key in time' }),
            ACCEPT_WAIT_MS,
          );
        },
      });
      speakMulaw8k(handoff.whisper, this.log).then(
        (audio) => {
          if (done) return;
          human.media.sendAudio(audio);
          human.media.sendMark('whisper-end');
        },
        () => finish({ accepted: false, why: 'failed', message: 'the whisper could not be synthesized' }),
      );
    });
  }

  bridgeCaller(): Promise<LegResult> {
    const human = this.human;
    this.human = undefined;
    if (!human) return Promise.resolve({ ok: false, message: 'the human is gone' });
    return Promise.resolve(human.join());
  }

  cancelWarm(): void {
    this.canceled = true;
    this.stopWhisper?.();
    const human = this.human;
    this.human = undefined;
    human?.hangup();
  }
}
