import type { LegListener, LegMedia } from '../call/leg.js';
import type { IvrConfig, IvrOption } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { speakMulaw8k } from '../speech/telephone.js';

/**
 * An IVR number over SIP. The call is answered at once; each attempt speaks the menu's prompt
 * (the SIP leg has no telephony text to speech, so the bridge's own offline synthesizer says it:
 * src/speech/tts.ts) and waits `timeout_s` after it has played for one key (RFC 4733 or SIP INFO,
 * as on an agent call). A key of the menu chooses its option; another key says `invalid_say` and
 * tries again; after `max_attempts` the menu's default applies, as on Twilio.
 */

/** What the menu needs of the call: its media (to speak and to hear keys) and where the choice goes. */
export interface IvrHost {
  media: {
    sendAudio(mulaw: Uint8Array): void;
    sendMark(name: string): void;
    sendClear(): void;
  };
  /** the caller hung up or the call ended otherwise: the menu stops */
  signal: AbortSignal;
  log: Logger;
}

/**
 * Runs the menu to its choice. Resolves with the option chosen (or the default), or undefined
 * when the call ended first. The menu is the media's listener until then.
 */
export class SipIvr implements LegListener {
  private key: ((digit: string) => void) | undefined;
  private played: ((name: string) => void) | undefined;
  private marks = 0;
  private lastWasInvalid = false;

  constructor(
    private readonly ivr: IvrConfig,
    private readonly host: IvrHost,
  ) {}

  async run(): Promise<IvrOption | undefined> {
    const { ivr, host } = this;
    for (let attempt = 1; attempt <= ivr.max_attempts; attempt++) {
      const prefix = attempt > 1 && this.lastWasInvalid ? ivr.invalid_say : undefined;
      const text = [prefix, ivr.prompt.say].filter(Boolean).join(' ');
      const digit = await this.ask(text, ivr.timeout_s * 1000);
      if (host.signal.aborted) return undefined;
      const option = digit === undefined ? undefined : ivr.options[digit];
      host.log.info({ attempt, choice: option ? digit : digit ? 'invalid' : 'none' }, 'SIP IVR input');
      if (option) return option;
      this.lastWasInvalid = digit !== undefined;
    }
    return host.signal.aborted ? undefined : ivr.default;
  }

  /** Speaks `text`, then waits for one key for `waitMs` after it played (a key during it counts). */
  private async ask(text: string, waitMs: number): Promise<string | undefined> {
    const { host } = this;
    let pressed: string | undefined;
    const keyed = new Promise<void>((r) => (this.key = (d) => ((pressed ??= d), r())));
    const aborted = new Promise<void>((r) => host.signal.addEventListener('abort', () => r(), { once: true }));
    const mark = `ivr-${++this.marks}`;
    const spoken = new Promise<void>((r) => (this.played = (name) => name === mark && r()));
    try {
      const audio = text ? await speakMulaw8k(text, host.log) : new Uint8Array(0);
      if (pressed === undefined && !host.signal.aborted) {
        host.media.sendAudio(audio);
        host.media.sendMark(mark);
        await Promise.race([spoken, keyed, aborted]);
      }
      if (pressed === undefined && !host.signal.aborted) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([keyed, aborted, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
        clearTimeout(timer);
      }
      if (pressed !== undefined) host.media.sendClear(); // a key cuts the prompt short
      return pressed;
    } finally {
      this.key = undefined;
      this.played = undefined;
    }
  }

  onMedia(): void {}

  onDtmf(digit: string): void {
    this.key?.(digit);
  }

  onMark(name: string): void {
    this.played?.(name);
  }

  onStreamEnded(_media: LegMedia, _why: string): void {}
}
