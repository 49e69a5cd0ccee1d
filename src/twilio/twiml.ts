import twilio from 'twilio';
import { isSendDigits, SEND_DIGITS_RULE } from '../audio/dtmf-digits.js';

/**
 * TwiML documents the bridge answers with or pushes through the REST API (specs/twilio.md §3).
 * Pure functions over the `twilio` package's VoiceResponse, which does the XML escaping.
 * Invalid input is a programming or configuration error: it throws TwimlError with a message
 * naming the offending field, rather than emitting TwiML that Twilio would refuse mid-call.
 */

const { VoiceResponse } = twilio.twiml;
type Response = InstanceType<typeof VoiceResponse>;

export class TwimlError extends Error {
  override name = 'TwimlError';
}

/** What runs once a stream or prompt is over. */
export type AfterVerb = 'hangup' | { dial: string } | { say: string } | { redirect: string };

export type DialTarget = { kind: 'number' | 'sip' | 'client' | 'queue'; value: string };

/** Twilio's limit for a `<Parameter>` name and for its value. */
export const MAX_PARAMETER_CHARS = 500;

function requireText(field: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') throw new TwimlError(`${field} must be a non-empty string`);
  return value;
}

function requireUrl(field: string, value: string, schemes: string[]): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new TwimlError(`${field} is not an absolute URL`);
  }
  if (!schemes.includes(u.protocol)) throw new TwimlError(`${field} must use ${schemes.join(' or ')}`);
  return value;
}

function addAfter(r: Response, after: AfterVerb | undefined): void {
  if (after === undefined) return;
  if (after === 'hangup') r.hangup();
  else if ('dial' in after) addDialNumberOrSip(r, requireText('after.dial', after.dial));
  else if ('say' in after) r.say(requireText('after.say', after.say));
  else if ('redirect' in after) r.redirect(requireText('after.redirect', after.redirect));
}

/** A plain dial string: `sip:` URIs become `<Sip>`, anything else `<Number>`. */
function addDialNumberOrSip(r: Response, target: string): void {
  const dial = r.dial();
  if (/^sips?:/i.test(target)) dial.sip(target);
  else dial.number(target);
}

export interface ConnectStreamOptions {
  /** `wss://host/path` — no query string: Twilio drops it, per-call data goes in parameters */
  streamUrl: string;
  parameters: Record<string, string>;
  after?: AfterVerb;
  statusCallback?: string;
  /** spoken before the stream connects (a moved call's hold line: the caller hears words, not dead air) */
  say?: string;
}

/** `<Connect><Stream url><Parameter…/></Stream></Connect>` then the `after` verb. */
export function connectStreamTwiml(opts: ConnectStreamOptions): string {
  const r = new VoiceResponse();
  if (opts.say) r.say(opts.say);
  addConnectStream(r, opts.streamUrl, opts.parameters, opts.statusCallback);
  addAfter(r, opts.after);
  return r.toString();
}

function addConnectStream(
  r: Response,
  streamUrl: string,
  parameters: Record<string, string>,
  statusCallback?: string,
): void {
  requireUrl('streamUrl', streamUrl, ['wss:']);
  if (streamUrl.includes('?'))
    throw new TwimlError('streamUrl must not carry a query string (Twilio drops it); use parameters');
  const attrs: { url: string; statusCallback?: string } = { url: streamUrl };
  if (statusCallback) attrs.statusCallback = requireUrl('statusCallback', statusCallback, ['https:', 'http:']);
  const stream = r.connect().stream(attrs);
  for (const [name, value] of Object.entries(parameters ?? {})) {
    if (name.length === 0 || name.length >= MAX_PARAMETER_CHARS) {
      throw new TwimlError(
        `stream parameter name "${name.slice(0, 40)}" must be 1..${MAX_PARAMETER_CHARS - 1} characters`,
      );
    }
    const v = String(value);
    if (v.length >= MAX_PARAMETER_CHARS) {
      throw new TwimlError(
        `stream parameter "${name.slice(0, 40)}" value is ${v.length} characters; Twilio allows under ${MAX_PARAMETER_CHARS}`,
      );
    }
    stream.parameter({ name, value: v });
  }
}

export interface DialOptions {
  target: DialTarget;
  callerId?: string;
  /** seconds of ringing before no-answer, 5..600 (Twilio's default is 30) */
  timeout?: number;
  answerOnBridge?: boolean;
  /** requested when the dialed leg ends, with DialCallStatus */
  action?: string;
  beforeSay?: string;
  /**
   * The transfer's context id, carried where the target can take it: a `<Client>` gets it as
   * `<Parameter name="context_id">`, a `<Sip>` URI as the custom header `X-Context-Id`; a number
   * cannot carry one (the context webhook still has it).
   */
  contextId?: string;
}

/** The `<Parameter>` name (Client) of a transfer's context id; `X-Context-Id` for SIP. */
export const CONTEXT_PARAMETER = 'context_id';
export const CONTEXT_SIP_HEADER = 'X-Context-Id';
const CONTEXT_ID_RE = /^[A-Za-z0-9-]{1,64}$/;

/** A SIP URI with the context id as a custom header (`?X-Context-Id=…`, or `&…` after other headers). */
export function sipWithContext(uri: string, contextId: string | undefined): string {
  if (contextId === undefined) return uri;
  if (!CONTEXT_ID_RE.test(contextId)) throw new TwimlError('context id must be 1-64 of A-Z a-z 0-9 -');
  return `${uri}${uri.includes('?') ? '&' : '?'}${CONTEXT_SIP_HEADER}=${contextId}`;
}

/** `<Say>`? then `<Dial>` with one noun (`<Queue>` for a queue target). */
export function dialTwiml(opts: DialOptions): string {
  const { target } = opts;
  const value = requireText('target.value', target?.value);
  const r = new VoiceResponse();
  if (opts.beforeSay) r.say(opts.beforeSay);
  const attrs: { callerId?: string; timeout?: number; answerOnBridge?: boolean; action?: string } = {};
  if (opts.callerId) attrs.callerId = opts.callerId;
  if (opts.timeout !== undefined) {
    if (!Number.isInteger(opts.timeout) || opts.timeout < 5 || opts.timeout > 600) {
      throw new TwimlError('dial timeout must be an integer from 5 to 600 seconds');
    }
    attrs.timeout = opts.timeout;
  }
  if (opts.answerOnBridge !== undefined) attrs.answerOnBridge = opts.answerOnBridge;
  if (opts.action) attrs.action = opts.action;
  const dial = r.dial(attrs);
  switch (target.kind) {
    case 'number':
      dial.number(value);
      break;
    case 'sip':
      dial.sip(sipWithContext(value, opts.contextId));
      break;
    case 'client':
      if (opts.contextId === undefined) dial.client(value);
      else {
        if (!CONTEXT_ID_RE.test(opts.contextId)) throw new TwimlError('context id must be 1-64 of A-Z a-z 0-9 -');
        const c = dial.client();
        c.identity(value.replace(/^client:/, ''));
        c.parameter({ name: CONTEXT_PARAMETER, value: opts.contextId });
      }
      break;
    case 'queue':
      dial.queue(value);
      break;
    default:
      throw new TwimlError(`unknown dial target kind "${String((target as { kind: unknown }).kind)}"`);
  }
  return r.toString();
}

/** `<Enqueue waitUrl>queue</Enqueue>`: the caller waits (hold music from waitUrl) for an agent. */
export function enqueueTwiml(opts: { queue: string; waitUrl?: string }): string {
  const r = new VoiceResponse();
  const name = requireText('queue', opts.queue);
  if (opts.waitUrl) r.enqueue({ waitUrl: opts.waitUrl }, name);
  else r.enqueue(name);
  return r.toString();
}

/** `<Say>`? `<Hangup/>` */
export function hangupTwiml(say?: string): string {
  const r = new VoiceResponse();
  if (say) r.say(say);
  r.hangup();
  return r.toString();
}

/**
 * `<Play digits/>` then a fresh `<Connect><Stream>`: the only way to send DTMF on a streamed
 * call, at the cost of a stream restart (new streamSid). The digits follow dtmf-digits.ts.
 */
export function playDigitsThenStreamTwiml(opts: {
  digits: string;
  streamUrl: string;
  parameters: Record<string, string>;
}): string {
  if (!isSendDigits(opts.digits) || !opts.digits) throw new TwimlError(`digits: ${SEND_DIGITS_RULE}`);
  const r = new VoiceResponse();
  r.play({ digits: opts.digits });
  addConnectStream(r, opts.streamUrl, opts.parameters);
  return r.toString();
}

export interface GatherOptions {
  prompt: { say?: string; playUrl?: string };
  numDigits?: number;
  finishOnKey?: string;
  /** seconds to wait for the next digit */
  timeout?: number;
  action: string;
  /** runs when the caller enters nothing (Twilio continues after `<Gather>`) */
  after?: AfterVerb;
}

/** `<Gather input="dtmf" …>` with a nested prompt; posts `Digits` to `action`. */
export function gatherTwiml(opts: GatherOptions): string {
  const r = new VoiceResponse();
  const attrs: { input: ['dtmf']; action: string; numDigits?: number; finishOnKey?: string; timeout?: number } = {
    input: ['dtmf'],
    action: requireText('action', opts.action),
  };
  if (opts.numDigits !== undefined) {
    if (!Number.isInteger(opts.numDigits) || opts.numDigits < 1)
      throw new TwimlError('numDigits must be a positive integer');
    attrs.numDigits = opts.numDigits;
  }
  if (opts.finishOnKey !== undefined) {
    if (!/^[0-9*#]?$/.test(opts.finishOnKey)) throw new TwimlError('finishOnKey must be one of 0-9 * # or empty');
    attrs.finishOnKey = opts.finishOnKey;
  }
  if (opts.timeout !== undefined) {
    if (!Number.isInteger(opts.timeout) || opts.timeout < 1)
      throw new TwimlError('gather timeout must be a positive integer');
    attrs.timeout = opts.timeout;
  }
  const gather = r.gather(attrs);
  if (opts.prompt?.say) gather.say(opts.prompt.say);
  if (opts.prompt?.playUrl) gather.play(opts.prompt.playUrl);
  addAfter(r, opts.after);
  return r.toString();
}

/** `<Say>text</Say>` then an optional verb. */
export function sayTwiml(text: string, then?: AfterVerb): string {
  const r = new VoiceResponse();
  r.say(requireText('text', text));
  addAfter(r, then);
  return r.toString();
}
