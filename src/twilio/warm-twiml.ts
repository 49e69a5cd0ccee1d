import twilio from 'twilio';
import { TwimlError } from './twiml.js';

/**
 * The TwiML of a warm transfer (specs/twilio.md §3): the human's leg hears the whisper (and, with
 * an accept key, is asked for it) before joining the call's conference; the caller joins that
 * conference once the human accepted. Pure, over the package's VoiceResponse (XML escaping).
 */

const { VoiceResponse } = twilio.twiml;

/** One conference per call: its name is derived from the caller's CallSid, so no two calls meet. */
export function conferenceName(callerSid: string): string {
  return `warm-${callerSid}`;
}

/** What the human hears when they refuse (or press another key). */
const REFUSED_SAY = 'Thank you. The caller stays with the assistant.';

export interface WhisperTwimlOptions {
  whisper: string;
  acceptKey?: string;
  /** signed, per attempt: the human's keys (or, without a key, the whisper's end) are posted here */
  acceptUrl: string;
  /** seconds the human has to press the key once the whisper is over */
  acceptTimeoutS?: number;
}

/**
 * The human's leg: `<Say>` the whisper, then either `<Gather numDigits=1>` for the accept key
 * (no key pressed: the leg hangs up, which is a refusal) or a `<Redirect>` to the accept URL.
 * The whisper is said outside the `<Gather>` so a key pressed early cannot cut it short.
 */
export function whisperTwiml(o: WhisperTwimlOptions): string {
  if (!o.whisper.trim()) throw new TwimlError('whisper must be a non-empty string');
  const r = new VoiceResponse();
  r.say(o.whisper);
  if (o.acceptKey) {
    if (!/^[0-9*#]$/.test(o.acceptKey)) throw new TwimlError('acceptKey must be one key: 0-9, * or #');
    const g = r.gather({
      input: ['dtmf'],
      numDigits: 1,
      timeout: o.acceptTimeoutS ?? 8,
      action: o.acceptUrl,
      actionOnEmptyResult: false,
    });
    g.say(`Press ${o.acceptKey === '*' ? 'star' : o.acceptKey === '#' ? 'pound' : o.acceptKey} to take the call.`);
    r.say(REFUSED_SAY);
    r.hangup();
  } else r.redirect(o.acceptUrl);
  return r.toString();
}

/** The answer to a refusal (another key): said, then the human's leg ends. */
export function refusedTwiml(): string {
  const r = new VoiceResponse();
  r.say(REFUSED_SAY);
  r.hangup();
  return r.toString();
}

/**
 * Either side's way into the conference. The human enters first (on accept) and hears silence
 * (`waitUrl=""`) for the moment the caller's move takes; the caller's side keeps Twilio's wait
 * music if it ever waits. Whoever leaves ends it: nobody is left alone in it.
 */
export function joinConferenceTwiml(o: { name: string; side: 'human' | 'caller' }): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(o.name)) throw new TwimlError('conference name must be 1-64 of A-Z a-z 0-9 _ -');
  const r = new VoiceResponse();
  const dial = r.dial();
  dial.conference(
    {
      startConferenceOnEnter: true,
      endConferenceOnExit: true,
      beep: 'false',
      ...(o.side === 'human' ? { waitUrl: '' } : {}),
    },
    o.name,
  );
  return r.toString();
}
