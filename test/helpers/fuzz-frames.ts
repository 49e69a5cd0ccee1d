/**
 * Hostile wire frames for fuzzing: Twilio Media Streams messages (valid-looking, then mutated)
 * and Omni server messages (tagged binary frames and legacy text).
 */
import { Rng, mutateObject, mutateText, randomJson, weirdString } from './fuzz.js';
import { mintStreamToken, streamTokenSecret } from '../../src/twilio/stream-token.js';
import { SIM_AUTH_TOKEN } from '../../src/sim/stack.js';

export interface StreamIds {
  accountSid: string;
  callSid: string;
  streamSid: string;
}

export function streamIds(rng: Rng): StreamIds {
  return { accountSid: `AC${rng.hex(32)}`, callSid: `CA${rng.hex(32)}`, streamSid: `MZ${rng.hex(32)}` };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Payloads: mostly real 160-byte μ-law, else the ways base64 goes wrong. */
function payload(rng: Rng): string {
  switch (rng.int(10)) {
    case 0:
      return '';
    case 1:
      return rng.bytes(rng.int(8)).toString('base64').replace(/=+$/, ''); // unpadded
    case 2:
      return `${rng.bytes(160).toString('base64')}=`; // over-padded
    case 3: {
      let s = '';
      for (let i = 0; i < 1 + rng.int(300); i++) s += String.fromCharCode(rng.range(0x21, 0x7e));
      return s;
    }
    case 4:
      return rng
        .bytes(160)
        .toString('base64')
        .replace(/[+/]/g, (c) => (c === '+' ? '-' : '_')); // base64url
    case 5:
      return rng.bytes(rng.int(4000)).toString('base64'); // odd sizes, up to 500 ms
    case 6: {
      let s = '';
      for (let i = 0; i < 4 * (1 + rng.int(60)); i++) s += B64[rng.int(64)];
      return s;
    }
    default:
      return rng.bytes(160).toString('base64');
  }
}

/** Counters are decimal strings; the hostile ones are numbers, huge, negative or padded. */
function counter(rng: Rng, n: number): unknown {
  if (rng.chance(0.85)) return String(n);
  return rng.pick<unknown>([
    n,
    -n,
    '999999999999999',
    '9999999999999999999',
    '-1',
    '1e3',
    ' 1',
    '',
    null,
    1e308,
    '0x1f',
    '٣',
  ]);
}

export interface TwilioFrameState {
  ids: StreamIds;
  seq: number;
  chunk: number;
  ts: number;
}

/** A valid-looking message of a random kind for this stream (before any mutation). */
export function twilioMessage(rng: Rng, st: TwilioFrameState, kind?: string): Record<string, unknown> {
  const k =
    kind ??
    rng.pick([
      'media',
      'media',
      'media',
      'media',
      'media',
      'dtmf',
      'mark',
      'mark',
      'start',
      'stop',
      'connected',
      'clear',
      'bogus',
    ]);
  const streamSid = rng.chance(0.93) ? st.ids.streamSid : rng.pick([`MZ${rng.hex(32)}`, '', weirdString(rng)]);
  const seq = counter(rng, ++st.seq);
  switch (k) {
    case 'media': {
      st.chunk++;
      st.ts += rng.chance(0.95) ? 20 : rng.pick([0, -40, 200, 2000, 60_000, 1e9]);
      return {
        event: 'media',
        sequenceNumber: seq,
        streamSid,
        media: {
          track: rng.chance(0.95) ? 'inbound' : rng.pick(['outbound', '', 'both', 'INBOUND']),
          chunk: counter(rng, st.chunk),
          timestamp: counter(rng, Math.max(0, st.ts)),
          payload: payload(rng),
        },
      };
    }
    case 'dtmf':
      return {
        event: 'dtmf',
        sequenceNumber: seq,
        streamSid,
        dtmf: { track: 'inbound_track', digit: rng.pick(['1', '5', '9', '*', '#', 'A', 'x', '12', '', '٣', '0']) },
      };
    case 'mark':
      return {
        event: 'mark',
        sequenceNumber: seq,
        streamSid,
        mark: {
          name: rng.pick([
            `1:${rng.int(50)}`,
            `${rng.int(5)}:${rng.int(500)}`,
            '0:0',
            ':',
            '',
            'x'.repeat(300),
            weirdString(rng),
          ]),
        },
      };
    case 'start':
      return startMessage(rng, st.ids, seq);
    case 'stop':
      return {
        event: 'stop',
        sequenceNumber: seq,
        streamSid,
        stop: { accountSid: st.ids.accountSid, callSid: st.ids.callSid },
      };
    case 'connected':
      return { event: 'connected', protocol: 'Call', version: '1.0.0' };
    case 'clear':
      return { event: 'clear', streamSid };
    default:
      return { event: weirdString(rng), sequenceNumber: seq, streamSid, [weirdString(rng)]: randomJson(rng) };
  }
}

/** A stream token for `callSid`, minted with the offline stack's secret (derived from SIM_AUTH_TOKEN). */
export function simStreamToken(callSid: string): string {
  return mintStreamToken(
    streamTokenSecret(undefined, SIM_AUTH_TOKEN)!,
    callSid,
    { agent: 'support', from: '+15557654321', to: '+15550001111' },
    60_000,
  );
}

export function startMessage(
  rng: Rng,
  ids: StreamIds,
  seq: unknown = '1',
  params?: Record<string, string>,
): Record<string, unknown> {
  return {
    event: 'start',
    sequenceNumber: seq,
    streamSid: ids.streamSid,
    start: {
      accountSid: ids.accountSid,
      streamSid: ids.streamSid,
      callSid: ids.callSid,
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      // what the bridge's TwiML would carry: a stream token for this CallSid (the offline stack's secret)
      customParameters: params ?? { token: simStreamToken(ids.callSid) },
    },
  };
}

export type WireFrame = { data: string | Buffer; binary: boolean };

/**
 * One frame for the media socket: a valid-looking message, often mutated structurally and/or
 * textually, sometimes a binary frame or plain garbage.
 */
export function twilioFrame(rng: Rng, st: TwilioFrameState, kind?: string): WireFrame {
  const r = rng.float();
  if (r < 0.03) return { data: rng.bytes(rng.int(400)), binary: true };
  if (r < 0.05) return { data: rng.bytes(rng.int(200)).toString('latin1'), binary: false };
  if (r < 0.07) return { data: JSON.stringify(randomJson(rng)), binary: false };
  const msg = twilioMessage(rng, st, kind);
  const mutations = rng.chance(0.45) ? 1 + rng.int(3) : 0;
  for (let i = 0; i < mutations; i++) mutateObject(rng, msg);
  let text = JSON.stringify(msg);
  if (rng.chance(0.15)) text = mutateText(rng, text);
  return { data: text, binary: false };
}

// ---------------------------------------------------------------------------------------------
// Omni server messages

const EVENT_NAMES = [
  'hello',
  'session_started',
  'configured',
  'config_ack',
  'transcript',
  'turn_begin',
  'flush',
  'barge_in',
  'assistant_interrupted',
  'audio_position',
  'kb_query',
  'idle_prompt',
  'tool_call',
  'transfer_to_human',
  'send_dtmf',
  'play_hold',
  'collect',
  'end_call',
  'dtmf',
  'warning',
  'error',
  'session_end',
  'session_ending',
  'mystery',
  '',
];

/** A control event object of a random kind, with plausible then hostile fields. */
export function omniEvent(rng: Rng): Record<string, unknown> {
  const name = rng.pick(EVENT_NAMES);
  const ev: Record<string, unknown> = { [rng.chance(0.8) ? 'event' : 'type']: name };
  const fields: Record<string, () => unknown> = {
    protocol: () => rng.pick([2, '2', -1, 'x']),
    audio_out: () =>
      rng.pick([
        'pcm16@16000',
        'pcm16@8000',
        'pcm16@24000',
        'pcm16@96000',
        'pcm16@1',
        'opus@48000',
        'pcm16@4294967296',
        7,
      ]),
    audio_in: () => rng.pick(['pcm16@24000', 'x']),
    call_id: () => rng.pick([`c${rng.int(100)}`, '', 42, null, weirdString(rng)]),
    role: () => rng.pick(['user', 'assistant', 'agent', 'system', 'AI', 5]),
    text: () => rng.pick(['hello', '', weirdString(rng), 'y'.repeat(rng.int(20_000))]),
    final: () => rng.pick([true, false, 'true', 0, 'maybe']),
    name: () => rng.pick(['get_order_status', 'create_support_ticket', 'unknown_tool', '', weirdString(rng)]),
    arguments: () =>
      rng.pick<unknown>([
        '{"order_id":"4417"}',
        '{',
        { order_id: '1' },
        [],
        5,
        null,
        '"x"',
        { summary: 'x'.repeat(2000) },
      ]),
    destination: () =>
      rng.pick(['front_desk', 'billing', '+15550100200', 'sip:evil@example.com', '', weirdString(rng)]),
    digits: () => rng.pick(['123', 'w1w2', '', 'X', '#'.repeat(100), 5]),
    seconds: () => rng.pick([0, 1, 5, -3, 1e9, 'forever', null]),
    kind: () => rng.pick(['dtmf', 'speech', 'DTMF', 'telepathy']),
    num_digits: () => rng.pick([1, 6, 0, -1, 1e6, '4']),
    timeout_ms: () => rng.pick([100, 5000, 1e9, -1, 'x']),
    reason: () => weirdString(rng),
    message: () => rng.pick(['oops', 'z'.repeat(5000), weirdString(rng)]),
    code: () => rng.pick([500, 'rate_limited', null, {}]),
  };
  const keys = Object.keys(fields);
  const n = rng.int(6);
  for (let i = 0; i < n; i++) {
    const key = rng.pick(keys);
    ev[key] = fields[key]!();
  }
  if (rng.chance(0.3)) mutateObject(rng, ev);
  return ev;
}

/** One server message: tagged binary (audio, transcript, control, unknown tag) or legacy text. */
export function omniServerFrame(rng: Rng): WireFrame {
  const r = rng.float();
  if (r < 0.25) {
    // audio: even and odd lengths, empty, large
    const n = rng.pick([0, 1, 2, 3, 319, 320, 640, 641, 960, rng.int(8000)]);
    const buf = Buffer.concat([Buffer.from([0x01]), rng.bytes(n)]);
    return { data: buf, binary: true };
  }
  if (r < 0.35) {
    const body = rng.chance(0.5) ? weirdString(rng) : JSON.stringify(omniEvent(rng));
    return { data: Buffer.concat([Buffer.from([0x02]), Buffer.from(body, 'utf8')]), binary: true };
  }
  if (r < 0.7) {
    let text = JSON.stringify(omniEvent(rng));
    if (rng.chance(0.2)) text = mutateText(rng, text);
    return { data: Buffer.concat([Buffer.from([0x03]), Buffer.from(text, 'utf8')]), binary: true };
  }
  if (r < 0.8) {
    const tag = rng.int(256);
    return { data: Buffer.concat([Buffer.from([tag]), rng.bytes(rng.int(300))]), binary: true };
  }
  if (r < 0.83) return { data: Buffer.alloc(0), binary: true };
  if (r < 0.93) {
    let text = JSON.stringify(omniEvent(rng));
    if (rng.chance(0.3)) text = mutateText(rng, text);
    return { data: text, binary: false };
  }
  return { data: rng.bytes(rng.int(200)).toString('latin1'), binary: false };
}
