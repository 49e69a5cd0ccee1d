import { describe, expect, it } from 'vitest';
import { parseServerEvent, type OmniEvent } from '../../../src/omni/events.js';
import { parseAudioFormatRate } from '../../../src/omni/fields.js';

function ok(value: unknown): OmniEvent {
  const r = parseServerEvent(value);
  if (!r.ok) throw new Error(`expected ok, got: ${r.reason}`);
  return r.event;
}
function rejected(value: unknown): string {
  const r = parseServerEvent(value);
  if (r.ok) throw new Error(`expected rejection, got ${JSON.stringify(r.event)}`);
  return r.reason;
}

describe('parseServerEvent: handshake', () => {
  it('reads hello with rates parsed from audio_in/audio_out', () => {
    expect(
      ok({ event: 'hello', protocol: 2, audio_in: 'pcm16@24000', audio_out: 'pcm16@16000', call_id: 'c1' }),
    ).toEqual({ type: 'hello', protocol: 2, audioIn: 24000, audioOutRate: 16000, callId: 'c1' });
  });

  it('reads session_started', () => {
    expect(ok({ event: 'session_started', agent_id: 'a', audio_out: 'pcm16@8000', call_id: 'c' })).toEqual({
      type: 'session_started',
      agentId: 'a',
      audioOutRate: 8000,
      callId: 'c',
    });
  });

  it('reads configured and config_ack into one shape', () => {
    expect(
      ok({ event: 'configured', voice_id: 'v', greeting: true, tools: 2, audio_out: 'pcm16@24000' }),
    ).toMatchObject({ type: 'configured', voiceId: 'v', greeting: true, tools: 2, audioOutRate: 24000 });
    expect(ok({ event: 'config_ack', voice_id: 'v', honored: ['persona'], ignored: ['foo'] })).toMatchObject({
      type: 'configured',
      voiceId: 'v',
      honored: ['persona'],
      ignored: ['foo'],
    });
  });

  it('leaves an unusable audio_out undefined instead of guessing', () => {
    for (const bad of ['opus@48000', 'pcm16@', 'pcm16@12', 'pcm16@9999999', 16000, null]) {
      expect(parseAudioFormatRate(bad)).toBeUndefined();
    }
    expect(parseAudioFormatRate('PCM16@22050')).toBe(22050);
    expect(ok({ event: 'hello', audio_out: 'mulaw@8000' })).toMatchObject({ type: 'hello', audioOutRate: undefined });
  });

  it('falls back to type when event is absent', () => {
    expect(ok({ type: 'audio_position', sent_ms: 120, realtime_ms: 100 })).toEqual({
      type: 'audio_position',
      sentMs: 120,
      realtimeMs: 100,
    });
  });
});

describe('parseServerEvent: conversation', () => {
  it('normalises transcript roles and the final flag', () => {
    expect(ok({ event: 'transcript', role: 'agent', text: 'hi', final: false })).toEqual({
      type: 'transcript',
      role: 'assistant',
      text: 'hi',
      final: false,
    });
    expect(ok({ event: 'transcript', speaker: 'user', text: 'yo', is_final: true })).toEqual({
      type: 'transcript',
      role: 'user',
      text: 'yo',
      final: true,
    });
    expect(ok({ event: 'transcript', role: 'assistant', text: 'unmarked' })).toMatchObject({ final: true });
  });

  it('rejects a transcript with an unknown role or no text', () => {
    expect(rejected({ event: 'transcript', role: 'narrator', text: 'x' })).toMatch(/role/);
    expect(rejected({ event: 'transcript', role: 'user' })).toMatch(/text: required/);
  });

  it('maps flush and barge_in to barge_in', () => {
    expect(ok({ event: 'flush' })).toEqual({ type: 'barge_in' });
    expect(ok({ event: 'barge_in' })).toEqual({ type: 'barge_in' });
  });

  it('reads turn_begin and assistant_interrupted', () => {
    expect(ok({ event: 'turn_begin', turn: 3, since_caller_end_ms: 420 })).toEqual({
      type: 'turn_begin',
      turn: 3,
      sinceCallerEndMs: 420,
    });
    expect(ok({ event: 'assistant_interrupted', reply: 'Hello, I' })).toEqual({
      type: 'assistant_interrupted',
      reply: 'Hello, I',
    });
  });

  it('reports kb_query and idle_prompt as telemetry', () => {
    expect(ok({ event: 'kb_query', query: 'hours' })).toEqual({
      type: 'telemetry',
      name: 'kb_query',
      data: { event: 'kb_query', query: 'hours' },
    });
    expect(ok({ event: 'idle_prompt' })).toMatchObject({ type: 'telemetry', name: 'idle_prompt' });
  });

  it('reads dtmf echoes, warnings, errors and session end', () => {
    expect(ok({ event: 'dtmf', digit: '7' })).toEqual({ type: 'dtmf_echo', digit: '7' });
    expect(ok({ event: 'warning', code: 'slow', message: 'm' })).toEqual({
      type: 'warning',
      code: 'slow',
      message: 'm',
    });
    expect(ok({ event: 'error', code: 500 })).toEqual({ type: 'error', code: '500', message: undefined });
    expect(ok({ event: 'session_end' })).toEqual({ type: 'session_end' });
    expect(ok({ event: 'session_ending' })).toEqual({ type: 'session_end' });
  });

  it('keeps unknown events with their name and raw object', () => {
    expect(ok({ event: 'mood_ring', color: 'blue' })).toEqual({
      type: 'unknown',
      name: 'mood_ring',
      raw: { event: 'mood_ring', color: 'blue' },
    });
  });

  it('rejects non-objects and nameless objects', () => {
    expect(rejected([1, 2])).toMatch(/not a JSON object/);
    expect(rejected('flush')).toMatch(/not a JSON object/);
    expect(rejected({ text: 'x' })).toMatch(/no event name/);
    expect(rejected({ event: 42 })).toMatch(/no event name/);
  });

  it('does not treat inherited property names as known events', () => {
    expect(ok({ event: 'constructor' })).toMatchObject({ type: 'unknown', name: 'constructor' });
  });
});

describe('parseServerEvent: tools and verbs', () => {
  it('reads a tool_call with object arguments', () => {
    expect(ok({ event: 'tool_call', call_id: 't1', name: 'lookup', arguments: { id: 5 } })).toEqual({
      type: 'tool_call',
      callId: 't1',
      name: 'lookup',
      arguments: { id: 5 },
    });
  });

  it('parses JSON-string arguments and falls back to tool / function.name / args', () => {
    expect(ok({ event: 'tool_call', call_id: 't', tool: 'a', args: '{"x":1}' })).toMatchObject({
      name: 'a',
      arguments: { x: 1 },
    });
    expect(ok({ event: 'tool_call', id: 't', function: { name: 'b', arguments: '{"y":2}' } })).toMatchObject({
      callId: 't',
      name: 'b',
      arguments: { y: 2 },
    });
  });

  it('keeps unparsable string arguments raw and missing ones as {}', () => {
    expect(ok({ event: 'tool_call', call_id: 't', name: 'a', arguments: '{oops' })).toMatchObject({
      arguments: '{oops',
    });
    expect(ok({ event: 'tool_call', call_id: 't', name: 'a' })).toMatchObject({ arguments: {} });
  });

  it('rejects a tool_call without name or call_id, or with a non-string name', () => {
    expect(rejected({ event: 'tool_call', call_id: 't' })).toMatch(/name/);
    expect(rejected({ event: 'tool_call', name: 'a' })).toMatch(/call_id/);
    expect(rejected({ event: 'tool_call', call_id: 't', name: { x: 1 } })).toMatch(/name: expected a string/);
  });

  it('reads transfer_to_human with destination or to, keeping raw', () => {
    const raw = { event: 'transfer_to_human', to: '+15551230000', reason: 'billing', call_id: 'v1', queue: 'x' };
    expect(ok(raw)).toEqual({
      type: 'transfer_to_human',
      destination: '+15551230000',
      reason: 'billing',
      callId: 'v1',
      raw,
    });
  });

  it('reads send_dtmf, accepting numeric digits', () => {
    expect(ok({ event: 'send_dtmf', digits: '12#' })).toEqual({ type: 'send_dtmf', digits: '12#', callId: undefined });
    expect(ok({ event: 'send_dtmf', digits: 123, call_id: 'c' })).toEqual({
      type: 'send_dtmf',
      digits: '123',
      callId: 'c',
    });
    expect(rejected({ event: 'send_dtmf' })).toMatch(/digits: required/);
  });

  it('reads play_hold seconds from numbers or numeric strings', () => {
    expect(ok({ event: 'play_hold', seconds: '10' })).toEqual({ type: 'play_hold', seconds: 10, callId: undefined });
    expect(rejected({ event: 'play_hold', seconds: 'ten' })).toMatch(/seconds: expected a number/);
  });

  it('reads collect with its optional fields', () => {
    expect(
      ok({
        event: 'collect',
        field: 'pin',
        kind: 'dtmf',
        call_id: 'c',
        num_digits: 4,
        finish_on_key: '#',
        timeout_ms: 5000,
      }),
    ).toEqual({
      type: 'collect',
      field: 'pin',
      kind: 'dtmf',
      callId: 'c',
      numDigits: 4,
      finishOnKey: '#',
      timeoutMs: 5000,
    });
    expect(rejected({ event: 'collect', field: 'x', kind: 'telepathy' })).toMatch(/kind/);
  });

  it('reads end_call', () => {
    expect(ok({ event: 'end_call', reason: 'done', call_id: 'e' })).toEqual({
      type: 'end_call',
      reason: 'done',
      callId: 'e',
    });
  });

  it('treats null as absent', () => {
    expect(ok({ event: 'end_call', reason: null })).toEqual({ type: 'end_call', reason: undefined, callId: undefined });
  });
});
