/**
 * Frames the bridge sends to Omni (§4 of the protocol). "Send strictly": every frame is built here
 * from typed input, keyed on `type` and never on `event` (the engine acknowledges and then drops
 * frames keyed on `event`), with only the keys the protocol names.
 */

/** The complete session configuration; a partial configure can overwrite a profile's bindings. */
export interface ConfigurePayload {
  persona: string;
  voice_id?: string;
  greeting?: string;
  consent_line?: string;
  kb_endpoint?: string;
  kb_token?: string;
  tools?: { name: string; description: string; parameters: object }[];
}

export type ConfigureFrame = { type: 'configure' } & ConfigurePayload;
export interface DtmfFrame {
  type: 'dtmf';
  digit: string;
}
export interface ToolResultFrame {
  type: 'tool_result';
  call_id: string;
  name: string;
  output: unknown;
}
export interface SessionEndingFrame {
  type: 'session_ending';
}
export type ClientFrame = ConfigureFrame | DtmfFrame | ToolResultFrame | SessionEndingFrame;

const DTMF_DIGIT = /^[0-9*#A-D]$/;

/** True for the keys a `dtmf` frame may carry (`0-9 * # A-D`, one per frame). */
export function isDtmfDigit(digit: string): boolean {
  return DTMF_DIGIT.test(digit);
}

/**
 * Builds the one `configure` frame. Copies the known keys only (so a stray `event` or secret field
 * on the caller's object never reaches the wire) and drops undefined ones.
 * @throws TypeError when `persona` is missing or a tool is malformed: a configuration bug.
 */
export function configureFrame(payload: ConfigurePayload): ConfigureFrame {
  if (typeof payload?.persona !== 'string') throw new TypeError('configure: persona must be a string');
  const frame: ConfigureFrame = { type: 'configure', persona: payload.persona };
  const optional = ['voice_id', 'greeting', 'consent_line', 'kb_endpoint', 'kb_token'] as const;
  for (const key of optional) {
    const value = payload[key];
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new TypeError(`configure: ${key} must be a string`);
    frame[key] = value;
  }
  if (payload.tools !== undefined) {
    if (!Array.isArray(payload.tools)) throw new TypeError('configure: tools must be an array');
    frame.tools = payload.tools.map((t, i) => {
      if (
        typeof t?.name !== 'string' ||
        typeof t.description !== 'string' ||
        typeof t.parameters !== 'object' ||
        t.parameters === null
      ) {
        throw new TypeError(`configure: tools[${i}] needs name, description and a parameters object`);
      }
      return { name: t.name, description: t.description, parameters: t.parameters };
    });
  }
  return frame;
}

/** @throws RangeError for anything but a single DTMF key. */
export function dtmfFrame(digit: string): DtmfFrame {
  if (typeof digit !== 'string' || !DTMF_DIGIT.test(digit)) {
    throw new RangeError('dtmf: digit must be one of 0-9 * # A-D');
  }
  return { type: 'dtmf', digit };
}

/** `output` undefined becomes null so the key is never silently dropped by JSON.stringify. */
export function toolResultFrame(callId: string, name: string, output: unknown): ToolResultFrame {
  if (typeof callId !== 'string' || callId.length === 0) throw new TypeError('tool_result: call_id is required');
  if (typeof name !== 'string') throw new TypeError('tool_result: name must be a string');
  return { type: 'tool_result', call_id: callId, name, output: output === undefined ? null : output };
}

export function sessionEndingFrame(): SessionEndingFrame {
  return { type: 'session_ending' };
}
