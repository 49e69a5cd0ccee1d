import { describe, expect, it } from 'vitest';
import {
  MediaEncoder,
  buildClear,
  buildMark,
  buildMedia,
  decodeCheckedPayload,
  decodeMediaPayload,
  isBase64,
  parseTwilioMessage,
} from '../../../src/twilio/messages.js';

const SID = 'MZ0123456789abcdef0123456789abcdef';
const CALL = 'CA0123456789abcdef0123456789abcdef';
const ACC = 'AC0123456789abcdef0123456789abcdef';
const PAYLOAD = Buffer.alloc(160, 0xff).toString('base64');

const start = (over: Record<string, unknown> = {}) => ({
  event: 'start',
  sequenceNumber: '1',
  streamSid: SID,
  start: {
    accountSid: ACC,
    streamSid: SID,
    callSid: CALL,
    tracks: ['inbound'],
    mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    customParameters: { agent: 'support' },
    ...over,
  },
});
const media = (m: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  event: 'media',
  sequenceNumber: '2',
  streamSid: SID,
  media: { track: 'inbound', chunk: '1', timestamp: '20', payload: PAYLOAD, ...m },
  ...top,
});

const parse = (v: unknown) => parseTwilioMessage(JSON.stringify(v));
const reason = (v: unknown) => {
  const r = parse(v);
  if (r.ok) throw new Error('expected a rejection');
  return r.reason;
};

describe('parseTwilioMessage', () => {
  it('accepts connected without a sequenceNumber', () => {
    const r = parse({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(r).toEqual({ ok: true, msg: { event: 'connected', protocol: 'Call', version: '1.0.0' } });
  });

  it('parses start with its custom parameters', () => {
    const r = parse(start());
    expect(r.ok).toBe(true);
    if (!r.ok || r.msg.event !== 'start') throw new Error('unreachable');
    expect(r.msg.start.callSid).toBe(CALL);
    expect(r.msg.start.customParameters).toEqual({ agent: 'support' });
    expect(r.msg.start.mediaFormat).toEqual({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 });
  });

  it('rejects start without callSid or streamSid', () => {
    const noCall = start();
    delete (noCall.start as Record<string, unknown>).callSid;
    expect(reason(noCall)).toMatch(/^invalid_start:start\.callSid/);
    const noStream = start();
    delete (noStream.start as Record<string, unknown>).streamSid;
    expect(reason(noStream)).toMatch(/^invalid_start:start\.streamSid/);
    const { streamSid: _drop, ...noTop } = start();
    expect(reason(noTop)).toMatch(/^invalid_start:streamSid/);
  });

  it('parses media and keeps the counters as the strings Twilio sent', () => {
    const r = parse(media());
    if (!r.ok || r.msg.event !== 'media') throw new Error('expected media');
    expect(r.msg.sequenceNumber).toBe('2');
    expect(r.msg.media).toEqual({ track: 'inbound', chunk: '1', timestamp: '20', payload: PAYLOAD });
  });

  it('rejects numeric (non-string) and non-numeric counters', () => {
    expect(reason(media({ chunk: 1 }))).toMatch(/^invalid_media:media\.chunk/);
    expect(reason(media({ timestamp: '-20' }))).toMatch(/^invalid_media:media\.timestamp/);
    expect(reason(media({}, { sequenceNumber: 2 }))).toMatch(/^invalid_media:sequenceNumber/);
    expect(reason(media({}, { sequenceNumber: '2e3' }))).toMatch(/^invalid_media:sequenceNumber/);
  });

  it('rejects a media payload that is not base64', () => {
    expect(reason(media({ payload: 'not base64!' }))).toMatch(/^invalid_media:media\.payload invalid base64/);
    expect(reason(media({ payload: 'AAA=A' }))).toMatch(/invalid base64/);
  });

  it('parses dtmf with the inbound_track track', () => {
    const r = parse({
      event: 'dtmf',
      sequenceNumber: '9',
      streamSid: SID,
      dtmf: { track: 'inbound_track', digit: '5' },
    });
    if (!r.ok || r.msg.event !== 'dtmf') throw new Error('expected dtmf');
    expect(r.msg.dtmf).toEqual({ track: 'inbound_track', digit: '5' });
    expect(
      reason({ event: 'dtmf', sequenceNumber: '9', streamSid: SID, dtmf: { track: 'inbound_track', digit: '55' } }),
    ).toMatch(/^invalid_dtmf/);
  });

  it('parses mark and stop', () => {
    const m = parse({ event: 'mark', sequenceNumber: '10', streamSid: SID, mark: { name: 'gen1-3' } });
    expect(m.ok && m.msg.event === 'mark' && m.msg.mark.name).toBe('gen1-3');
    const s = parse({ event: 'stop', sequenceNumber: '11', streamSid: SID, stop: { accountSid: ACC, callSid: CALL } });
    expect(s.ok && s.msg.event === 'stop' && s.msg.stop.callSid).toBe(CALL);
    expect(reason({ event: 'stop', sequenceNumber: '11', streamSid: SID })).toMatch(/^invalid_stop:stop/);
  });

  it('rejects invalid JSON, non-objects and a missing event', () => {
    expect(parseTwilioMessage('{"event":')).toEqual({ ok: false, reason: 'invalid_json' });
    expect(parseTwilioMessage('[1,2]')).toEqual({ ok: false, reason: 'not_object' });
    expect(parseTwilioMessage('null')).toEqual({ ok: false, reason: 'not_object' });
    expect(parseTwilioMessage('{"streamSid":"x"}')).toEqual({ ok: false, reason: 'missing_event' });
  });

  it('names unknown events, clipped and printable', () => {
    expect(reason({ event: 'clear', streamSid: SID })).toBe('unknown_event:clear');
    expect(reason({ event: 'toString' })).toBe('unknown_event:toString');
    const r = reason({ event: `x\n${'y'.repeat(100)}` });
    expect(r.startsWith('unknown_event:x?yyy')).toBe(true);
    expect(r.length).toBeLessThan(70);
  });

  it('refuses oversized input before parsing it', () => {
    const big = JSON.stringify(media({ payload: 'A'.repeat(100_000) }));
    expect(parseTwilioMessage(big)).toEqual({ ok: false, reason: 'oversize' });
    expect(parseTwilioMessage(JSON.stringify(media()), 100)).toEqual({ ok: false, reason: 'oversize' });
    expect(parseTwilioMessage(big, 200_000).ok).toBe(true);
  });

  it('never throws on hostile input', () => {
    const inputs = [
      '',
      ' ',
      '1',
      '"s"',
      'true',
      '{"event":null}',
      '{"event":"media","media":null}',
      '{"event":"start","start":[]}',
      '\u0000',
    ];
    for (const i of inputs) expect(parseTwilioMessage(i).ok).toBe(false);
    expect(parseTwilioMessage(undefined as unknown as string)).toEqual({ ok: false, reason: 'not_text' });
  });
});

describe('decodeMediaPayload', () => {
  it('decodes base64 to μ-law bytes', () => {
    const buf = decodeMediaPayload(PAYLOAD);
    expect(buf?.length).toBe(160);
    expect(buf?.every((b) => b === 0xff)).toBe(true);
  });

  it('returns null for empty or invalid base64', () => {
    expect(decodeMediaPayload('')).toBeNull();
    expect(decodeMediaPayload('@@@@')).toBeNull();
    expect(decodeMediaPayload('QUJD\n')).toBeNull();
    expect(decodeMediaPayload('A')).toBeNull();
    // the form for payloads the parser already checked: same bytes, empty is still refused
    expect(decodeCheckedPayload(PAYLOAD)).toEqual(decodeMediaPayload(PAYLOAD));
    expect(decodeCheckedPayload('')).toBeNull();
  });

  it('isBase64 accepts padding only at the end', () => {
    expect(isBase64('QUI=')).toBe(true);
    expect(isBase64('QQ==')).toBe(true);
    expect(isBase64('QQ')).toBe(true); // unpadded is still decodable
    expect(isBase64('Q===')).toBe(false);
    expect(isBase64('QQ==QQ==')).toBe(false);
    expect(isBase64('a-b_')).toBe(false); // base64url is not what Twilio sends
  });
});

describe('outbound builders', () => {
  it('media has exactly event, streamSid and media.payload', () => {
    const msg = JSON.parse(buildMedia(SID, PAYLOAD));
    expect(msg).toEqual({ event: 'media', streamSid: SID, media: { payload: PAYLOAD } });
    expect(Object.keys(msg)).toEqual(['event', 'streamSid', 'media']);
  });

  it('a per-stream MediaEncoder builds the same message from μ-law bytes as buildMedia does', () => {
    const bytes = Buffer.from(PAYLOAD, 'base64');
    const enc = new MediaEncoder(SID);
    expect(enc.encodeFrame(new Uint8Array(bytes)).toString('utf8')).toBe(buildMedia(SID, PAYLOAD));
    // a view into a larger buffer encodes only its own bytes
    const big = new Uint8Array(bytes.length + 8);
    big.set(bytes, 4);
    expect(JSON.parse(enc.encodeFrame(big.subarray(4, 4 + bytes.length)).toString()).media.payload).toBe(PAYLOAD);
    // every length, so every padding case, encodes as Node's base64 does
    for (let n = 0; n <= 400; n++) {
      const mu = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 255);
      expect(enc.encodeFrame(mu).toString()).toBe(buildMedia(SID, Buffer.from(mu).toString('base64')));
    }
    const other = new MediaEncoder('MZffffffffffffffffffffffffffffffff');
    expect(JSON.parse(other.encode('QQ==')).streamSid).toBe('MZffffffffffffffffffffffffffffffff');
    expect(() => new MediaEncoder('MZ"}')).toThrow(TypeError);
  });

  it('mark escapes its name and has exactly the mark fields', () => {
    const msg = JSON.parse(buildMark(SID, 'gen"1\\-3'));
    expect(msg).toEqual({ event: 'mark', streamSid: SID, mark: { name: 'gen"1\\-3' } });
  });

  it('clear has exactly event and streamSid', () => {
    expect(JSON.parse(buildClear(SID))).toEqual({ event: 'clear', streamSid: SID });
  });

  it('refuses a streamSid or payload that would need escaping', () => {
    expect(() => buildMedia('MZ"}', PAYLOAD)).toThrow(TypeError);
    expect(() => buildClear('')).toThrow(TypeError);
    expect(() => buildMark('MZ\n', 'x')).toThrow(TypeError);
    expect(() => buildMedia(SID, 'ab"c')).toThrow(TypeError);
  });
});
