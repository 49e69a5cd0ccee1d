/**
 * Server → client events (§5 of the protocol), normalised into one discriminated union. "Accept
 * liberally": the event name is read from `event` falling back to `type`, fields go by their
 * documented aliases, and anything unusable becomes a rejection with a reason — never a throw.
 */
import { FieldReader, isPlainObject, parseAudioFormatRate } from './fields.js';

export * from './client-frames.js';

export type TranscriptRole = 'user' | 'assistant';

export type OmniEvent =
  | {
      type: 'hello';
      protocol?: number;
      /** input rate from `audio_in` */ audioIn?: number;
      audioOutRate?: number;
      callId?: string;
    }
  | { type: 'session_started'; agentId?: string; audioOutRate?: number; callId?: string }
  | {
      type: 'configured';
      voiceId?: string;
      greeting?: boolean;
      tools?: number;
      audioOutRate?: number;
      honored?: string[];
      ignored?: string[];
    }
  | { type: 'transcript'; role: TranscriptRole; text: string; final: boolean }
  | {
      /** a turn starts: `turn_begin`, or the reference server's `turn` (with the speaking role) */
      type: 'turn_begin';
      turn?: number;
      sinceCallerEndMs?: number;
      role?: TranscriptRole;
    }
  | { type: 'barge_in' }
  | { type: 'assistant_interrupted'; reply: string }
  | { type: 'audio_position'; sentMs?: number; realtimeMs?: number }
  | { type: 'telemetry'; name: string; data: Record<string, unknown> }
  | {
      type: 'tool_call';
      callId: string;
      name: string;
      /** object, or the raw string if it was not JSON */ arguments: unknown;
    }
  | { type: 'transfer_to_human'; destination?: string; reason?: string; callId?: string; raw: Record<string, unknown> }
  | { type: 'send_dtmf'; digits: string; callId?: string }
  | { type: 'play_hold'; seconds?: number; callId?: string }
  | {
      type: 'collect';
      field: string;
      kind: 'dtmf' | 'speech';
      callId?: string;
      numDigits?: number;
      finishOnKey?: string;
      timeoutMs?: number;
    }
  | { type: 'end_call'; reason?: string; callId?: string }
  | { type: 'dtmf_echo'; digit: string }
  | { type: 'warning'; code?: string; message?: string }
  | { type: 'error'; code?: string; message?: string }
  | { type: 'session_end' }
  | { type: 'unknown'; name: string; raw: Record<string, unknown> };

export type OmniEventType = OmniEvent['type'];

export type ParseResult = { ok: true; event: OmniEvent } | { ok: false; reason: string };

type Builder = (f: FieldReader, name: string) => OmniEvent | undefined;

const ROLE_ALIASES: Record<string, TranscriptRole> = {
  user: 'user',
  caller: 'user',
  human: 'user',
  customer: 'user',
  assistant: 'assistant',
  agent: 'assistant',
  bot: 'assistant',
  ai: 'assistant',
};

/**
 * Transcripts without a `final` flag count as final: a partial is always marked as one (or comes
 * as raw text on 0x02), and treating unmarked text as partial would lose it from the call record.
 */
function transcript(f: FieldReader): OmniEvent | undefined {
  const roleText = f.str('role', 'speaker');
  const text = f.require(f.str('text', 'transcript'), 'text');
  const final = f.bool('final', 'is_final') ?? true;
  let role: TranscriptRole = 'user';
  if (roleText !== undefined) {
    const mapped = ROLE_ALIASES[roleText.toLowerCase()];
    if (!mapped) {
      f.problem ??= `role: unknown role "${roleText.slice(0, 32)}"`;
      return undefined;
    }
    role = mapped;
  }
  if (text === undefined) return undefined;
  return { type: 'transcript', role, text, final };
}

/** Tool arguments: an object as is; a JSON string parsed; anything else kept raw for the runtime to reject. */
function toolArguments(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? {};
  const trimmed = value.trim();
  if (trimmed === '') return {};
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return value;
  }
}

function toolCall(f: FieldReader): OmniEvent | undefined {
  const fn = f.obj('function');
  const fnReader = fn ? new FieldReader(fn) : undefined;
  const name = f.str('name', 'tool') ?? fnReader?.str('name');
  const callId = f.str('call_id', 'callId', 'id', 'tool_call_id');
  const args = f.any('arguments', 'args') ?? fn?.arguments;
  f.require(name, 'name');
  f.require(callId, 'call_id');
  if (fnReader?.problem) f.problem ??= `function.${fnReader.problem}`;
  if (name === undefined || callId === undefined || name.trim() === '') {
    f.problem ??= 'name: must not be empty';
    return undefined;
  }
  return { type: 'tool_call', callId, name, arguments: toolArguments(args) };
}

function collect(f: FieldReader): OmniEvent | undefined {
  const field = f.str('field', 'name') ?? 'input';
  const kindText = (f.str('kind', 'input_type', 'mode') ?? 'dtmf').toLowerCase();
  if (kindText !== 'dtmf' && kindText !== 'speech') {
    f.problem ??= `kind: expected "dtmf" or "speech", got "${kindText.slice(0, 16)}"`;
    return undefined;
  }
  return {
    type: 'collect',
    field,
    kind: kindText,
    callId: f.str('call_id', 'callId'),
    numDigits: f.num('num_digits', 'numDigits', 'max_digits'),
    finishOnKey: f.str('finish_on_key', 'finishOnKey'),
    timeoutMs: f.num('timeout_ms', 'timeoutMs'),
  };
}

const BUILDERS: Record<string, Builder> = {
  hello: (f) => ({
    type: 'hello',
    protocol: f.num('protocol'),
    audioIn: parseAudioFormatRate(f.any('audio_in')),
    audioOutRate: parseAudioFormatRate(f.any('audio_out')),
    callId: f.str('call_id', 'callId'),
  }),
  session_started: (f) => ({
    type: 'session_started',
    agentId: f.str('agent_id', 'agentId'),
    audioOutRate: parseAudioFormatRate(f.any('audio_out')),
    callId: f.str('call_id', 'callId'),
  }),
  configured: (f) => configured(f),
  config_ack: (f) => configured(f),
  transcript: (f) => transcript(f),
  turn_begin: (f) => ({
    type: 'turn_begin',
    turn: f.num('turn'),
    sinceCallerEndMs: f.num('since_caller_end_ms', 'sinceCallerEndMs'),
  }),
  turn: (f) => {
    const roleText = f.str('role', 'speaker');
    const role = roleText === undefined ? 'assistant' : ROLE_ALIASES[roleText.toLowerCase()];
    if (!role) {
      f.problem ??= `role: unknown role "${roleText!.slice(0, 32)}"`;
      return undefined;
    }
    return {
      type: 'turn_begin',
      role,
      turn: f.num('turn'),
      sinceCallerEndMs: f.num('since_caller_end_ms', 'sinceCallerEndMs'),
    };
  },
  flush: () => ({ type: 'barge_in' }),
  barge_in: () => ({ type: 'barge_in' }),
  assistant_interrupted: (f) => ({ type: 'assistant_interrupted', reply: f.str('reply', 'text') ?? '' }),
  audio_position: (f) => ({
    type: 'audio_position',
    sentMs: f.num('sent_ms', 'sentMs'),
    realtimeMs: f.num('realtime_ms', 'realtimeMs'),
  }),
  kb_query: (f, name) => ({ type: 'telemetry', name, data: f.raw }),
  idle_prompt: (f, name) => ({ type: 'telemetry', name, data: f.raw }),
  tool_call: (f) => toolCall(f),
  transfer_to_human: (f) => ({
    type: 'transfer_to_human',
    destination: f.str('destination', 'to', 'target'),
    reason: f.str('reason'),
    callId: f.str('call_id', 'callId'),
    raw: f.raw,
  }),
  send_dtmf: (f) => {
    const digits = f.require(f.str('digits', 'digit', 'dtmf'), 'digits');
    return digits === undefined ? undefined : { type: 'send_dtmf', digits, callId: f.str('call_id', 'callId') };
  },
  play_hold: (f) => ({
    type: 'play_hold',
    seconds: f.num('seconds', 'duration_s', 'duration'),
    callId: f.str('call_id', 'callId'),
  }),
  collect: (f) => collect(f),
  end_call: (f) => ({ type: 'end_call', reason: f.str('reason'), callId: f.str('call_id', 'callId') }),
  dtmf: (f) => {
    const digit = f.require(f.str('digit', 'digits'), 'digit');
    return digit === undefined ? undefined : { type: 'dtmf_echo', digit };
  },
  warning: (f) => ({ type: 'warning', code: f.str('code'), message: f.str('message', 'msg') }),
  error: (f) => ({ type: 'error', code: f.str('code'), message: f.str('message', 'msg', 'error') }),
  session_end: () => ({ type: 'session_end' }),
  session_ending: () => ({ type: 'session_end' }),
};

function configured(f: FieldReader): OmniEvent {
  const greeting = f.any('greeting');
  return {
    type: 'configured',
    voiceId: f.str('voice_id', 'voiceId'),
    // A server that echoes the greeting text instead of a flag still means "a greeting is set".
    greeting: typeof greeting === 'string' ? greeting.length > 0 : f.bool('greeting'),
    tools: Array.isArray(f.raw.tools) ? f.raw.tools.length : f.num('tools'),
    audioOutRate: parseAudioFormatRate(f.any('audio_out')),
    honored: f.strList('honored'),
    ignored: f.strList('ignored'),
  };
}

/** Parses one decoded control object (the JSON of a 0x03 frame or a legacy text message). */
export function parseServerEvent(value: unknown): ParseResult {
  if (!isPlainObject(value)) return { ok: false, reason: 'control message is not a JSON object' };
  const nameValue = value.event ?? value.type;
  if (typeof nameValue !== 'string' || nameValue === '') {
    return { ok: false, reason: 'control message has no event name' };
  }
  const builder = Object.hasOwn(BUILDERS, nameValue) ? BUILDERS[nameValue] : undefined;
  if (!builder) return { ok: true, event: { type: 'unknown', name: nameValue.slice(0, 64), raw: value } };
  const reader = new FieldReader(value);
  const event = builder(reader, nameValue);
  if (reader.problem || !event) {
    return { ok: false, reason: `invalid ${nameValue} event: ${reader.problem ?? 'unusable'}` };
  }
  return { ok: true, event };
}

/**
 * Payload of a 0x02 transcript frame: a JSON object (a transcript, or any event) or raw UTF-8 text,
 * which is a caller partial.
 */
export function parseTranscriptPayload(text: string): ParseResult {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      parsed = undefined; // not JSON after all: fall through to raw text
    }
    if (isPlainObject(parsed)) {
      const name = parsed.event ?? parsed.type;
      if (name !== undefined && name !== 'transcript') return parseServerEvent(parsed);
      const reader = new FieldReader(parsed);
      const event = transcript(reader);
      if (reader.problem || !event) return { ok: false, reason: `invalid transcript: ${reader.problem ?? 'unusable'}` };
      return { ok: true, event };
    }
  }
  if (trimmed === '') return { ok: false, reason: 'empty transcript frame' };
  return { ok: true, event: { type: 'transcript', role: 'user', text: trimmed, final: false } };
}
