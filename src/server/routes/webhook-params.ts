import { z } from 'zod';
import { ACCOUNT_SID_RE, CALL_SID_RE } from '../../twilio/wire.js';

/**
 * The parameters of each Twilio webhook, and only those its route uses. Twilio signs the URL
 * followed by every parameter's name and value concatenated in name order, so `a=bc` and `ab=c`
 * sign the same: a replayed request can move the boundary between a name and the next value.
 * Each value used here therefore has the tightest form Twilio gives it (an id, a number, a word
 * from a fixed list), so that a shifted boundary makes a value invalid (400) instead of different.
 * Every other parameter is dropped by the parse and never read: routes only use the parsed object.
 * Twilio's parameter names are letters, digits and `_`; a request with any other name is refused,
 * so an optional value cannot be moved into a name either (`To=+1555…` as a `To+1555…` name with an
 * empty value would otherwise only drop `To` and route the call elsewhere).
 */

const callSid = z.string().regex(CALL_SID_RE);
const accountSid = z.string().regex(ACCOUNT_SID_RE);

/**
 * A caller or called party: an E.164 or national number, a `client:` identity, a `sip:` URI, or
 * one of the words Twilio uses for a hidden number. Empty is accepted (Twilio sends it for some).
 */
const party = z
  .string()
  .max(256)
  .regex(
    /^(\+?\d{1,20}|client:[A-Za-z0-9_.-]{1,128}|sips?:[A-Za-z0-9_.+!~*'()%&=$,;?/:@[\]-]{1,250}|anonymous|restricted|unknown|unavailable|private|)$/i,
    'a phone number, client: identity or sip: URI',
  );

/** Twilio's call statuses (specs/twilio.md). */
export const CALL_STATUSES = [
  'queued',
  'initiated',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'failed',
  'no-answer',
  'canceled',
] as const;
/** `<Dial action>`'s outcome of the dialled leg. */
export const DIAL_CALL_STATUSES = ['completed', 'answered', 'busy', 'no-answer', 'failed', 'canceled'] as const;

/** Refuses any parameter name Twilio would not send (no path: the name may hold a phone number). */
function named<T extends z.ZodType<unknown, Record<string, unknown>>>(params: T) {
  return z
    .record(z.string(), z.unknown())
    .superRefine((form, ctx) => {
      if (Object.keys(form).some((k) => !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(k))) {
        ctx.addIssue({ code: 'custom', message: 'parameter names are letters, digits and _' });
      }
    })
    .pipe(params);
}

/**
 * What Twilio sends with every request about a call (specs/twilio.md §3), each required: a
 * parameter that is absent may have been folded into a neighbour's value by a shifted boundary
 * (`StirVerstat=TN-Validation-Passed-ATo+15550001111` signs like `StirVerstat=…` and `To=+1555…`),
 * which would silently route the call without its number (skipping an IVR) or its caller ID.
 */
const voiceObject = z.object({
  CallSid: callSid,
  AccountSid: accountSid,
  From: party,
  To: party,
  CallStatus: z.enum(CALL_STATUSES),
  Direction: z.string().regex(/^(inbound|outbound-api|outbound-dial|trunking-originating|trunking-terminating)$/),
});

export const voiceParams = named(voiceObject);

export const statusParams = named(
  voiceObject.extend({
    SequenceNumber: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional(),
    CallDuration: z
      .string()
      .regex(/^\d{1,9}$/)
      .optional(),
  }),
);

export const dialParams = named(voiceObject.extend({ DialCallStatus: z.enum(DIAL_CALL_STATUSES) }));

export const ivrParams = named(
  voiceObject.extend({
    /** the keys pressed (empty: none), or `hangup` when the caller hung up during the `<Gather>` */
    Digits: z
      .string()
      .regex(/^([0-9*#]{0,32}|hangup)$/)
      .optional(),
  }),
);
