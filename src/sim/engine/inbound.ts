/**
 * What the offline engine accepts from a client, checked strictly: it is the bridge's conformance
 * test. Every deviation from the protocol comes back as a named violation, never an exception.
 */
import { TAG_AUDIO, TAG_CONTROL, readPcm16 } from '../../omni/framing.js';

export type ClientMessage =
  | { kind: 'audio'; pcm: Int16Array }
  | { kind: 'configure'; config: Record<string, unknown> }
  | { kind: 'dtmf'; digit: string }
  | { kind: 'tool_result'; callId: string; name: string; output: unknown }
  | { kind: 'session_ending' }
  | { kind: 'violation'; violation: string };

const DIGIT = /^[0-9*#A-D]$/;
const CONFIGURE_STRINGS = ['voice_id', 'greeting', 'consent_line', 'kb_endpoint', 'kb_token'] as const;

function violation(v: string): ClientMessage {
  return { kind: 'violation', violation: v };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkConfigure(frame: Record<string, unknown>): ClientMessage {
  if (typeof frame.persona !== 'string') return violation('configure without a persona string (partial configure?)');
  for (const key of CONFIGURE_STRINGS) {
    if (frame[key] !== undefined && typeof frame[key] !== 'string')
      return violation(`configure.${key} is not a string`);
  }
  if (frame.tools !== undefined) {
    if (!Array.isArray(frame.tools)) return violation('configure.tools is not an array');
    for (const t of frame.tools) {
      if (!isObject(t) || typeof t.name !== 'string' || typeof t.description !== 'string' || !isObject(t.parameters)) {
        return violation('configure.tools entry without name, description and parameters object');
      }
    }
  }
  return { kind: 'configure', config: frame };
}

function parseControl(text: string): ClientMessage {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return violation('invalid JSON in control frame');
  }
  if (!isObject(frame)) return violation('control frame is not a JSON object');
  if ('event' in frame)
    return violation(`client frame keyed on "event" (${String(frame.event).slice(0, 32)}); clients use "type"`);
  switch (frame.type) {
    case 'configure':
      return checkConfigure(frame);
    case 'dtmf':
      return typeof frame.digit === 'string' && DIGIT.test(frame.digit)
        ? { kind: 'dtmf', digit: frame.digit }
        : violation('dtmf frame without a single valid digit');
    case 'tool_result':
      if (typeof frame.call_id !== 'string' || frame.call_id === '') return violation('tool_result without call_id');
      if (typeof frame.name !== 'string') return violation('tool_result without name');
      if (!('output' in frame)) return violation('tool_result without output');
      return { kind: 'tool_result', callId: frame.call_id, name: frame.name, output: frame.output };
    case 'session_ending':
      return { kind: 'session_ending' };
    case undefined:
      return violation('control frame without "type"');
    default:
      return violation(`unknown frame type "${String(frame.type).slice(0, 32)}"`);
  }
}

/** Classifies one client message. `isBinary` false means a text message, which the protocol never sends. */
export function parseClientMessage(data: Buffer, isBinary: boolean): ClientMessage {
  if (!isBinary) return violation('text message (clients send tagged binary frames)');
  const tag = data[0];
  if (tag === undefined) return violation('empty binary message');
  if (tag === TAG_AUDIO) {
    if ((data.length - 1) & 1) return violation('audio frame with an odd number of bytes');
    return { kind: 'audio', pcm: readPcm16(data, 1).pcm };
  }
  if (tag === TAG_CONTROL) return parseControl(data.toString('utf8', 1));
  return violation(`untagged audio or unknown tag 0x${tag.toString(16).padStart(2, '0')}`);
}
