/**
 * The one rule for the DTMF digits the bridge sends (`send_dtmf`), shared by the controller, which
 * refuses anything else with a tool error, and the `<Play digits>` builder, which must never be
 * handed what it would throw on. Twilio's alphabet (error 21206, like the simulator's check):
 * 0-9 * # A-D, `w` = a half-second pause, `W` = a one-second pause. The in-band generator
 * (src/audio/dtmf.ts) renders the same alphabet.
 */

/** Longest digit string one `send_dtmf` may send (bounds the tones and the TwiML). */
export const MAX_SEND_DIGITS = 64;

const SEND_DIGITS = /^[0-9*#A-DwW]+$/;

/** What the engine is told when its digits are refused. */
export const SEND_DIGITS_RULE = `use 0-9 * # A-D, w (half-second pause) and W (one-second pause), at most ${MAX_SEND_DIGITS}`;

/** Whether `digits` is a digit string the bridge sends as it is. */
export function isSendDigits(digits: unknown): digits is string {
  return typeof digits === 'string' && digits.length <= MAX_SEND_DIGITS && SEND_DIGITS.test(digits);
}

/**
 * The engine's digits in the accepted alphabet, or undefined when they are not DTMF. Lower-case
 * a-d are the keys A-D (the only letters that are ambiguous in neither direction: `w`/`W` differ).
 */
export function normalizeSendDigits(digits: unknown): string | undefined {
  if (typeof digits !== 'string') return undefined;
  const upper = digits.replace(/[a-d]/g, (c) => c.toUpperCase());
  return isSendDigits(upper) && upper.length > 0 ? upper : undefined;
}
