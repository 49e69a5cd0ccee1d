import fc from 'fast-check';
import * as sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { answerOffer, type LocalMedia } from '../../../src/sip/sdp.js';

const local: LocalMedia = { publicAddress: '127.0.0.1', rtpPort: 20000, sessionId: '42', sessionVersion: 1 };

function offer(media: string[], session: string[] = []): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.2', 's=-', 'c=IN IP4 127.0.0.2', 't=0 0', ...session, ...media, ''].join(
    '\r\n',
  );
}

const audio = (payloads: string, ...attrs: string[]) => [`m=audio 4000 RTP/AVP ${payloads}`, ...attrs];
const TE = ['a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16'];

function answered(text: string) {
  const r = answerOffer(text, local);
  if (!r.ok) throw new Error(`refused: ${r.status} ${r.reason}`);
  return { ...r, parsed: sdpTransform.parse(r.sdp) };
}

describe('SDP offer/answer', () => {
  it('picks the first G.711 codec in the offer order, with telephone-event', () => {
    const a = answered(offer(audio('18 8 0 101', 'a=rtpmap:18 G729/8000', ...TE)));
    expect(a.media.codec).toEqual({ payload: 8, name: 'PCMA' });
    expect(a.media.telephoneEvent).toEqual({ payload: 101 });
    expect(a.media.remote).toEqual({ address: '127.0.0.2', port: 4000 });
    const m = a.parsed.media[0]!;
    expect(m.payloads).toBe('8 101');
    expect(m.port).toBe(20000);
    expect(m.ptime).toBe(20);
    expect(m.fmtp).toEqual([{ payload: 101, config: '0-15' }]);
    expect(answered(offer(audio('0 8'))).media.codec.name).toBe('PCMU');
  });

  it('accepts G.711 on a dynamic payload type only when it says 8000 Hz', () => {
    expect(answered(offer(audio('96', 'a=rtpmap:96 pcma/8000'))).media.codec).toEqual({ payload: 96, name: 'PCMA' });
    expect(answerOffer(offer(audio('96', 'a=rtpmap:96 PCMA/16000')), local)).toMatchObject({ ok: false, status: 488 });
  });

  it('answers 488 when no common codec or no plain RTP/AVP', () => {
    expect(answerOffer(offer(audio('18 9', 'a=rtpmap:18 G729/8000')), local)).toMatchObject({ ok: false, status: 488 });
    expect(answerOffer(offer(['m=audio 4000 RTP/SAVP 0 8']), local)).toMatchObject({ ok: false, status: 488 });
    expect(answerOffer(offer(['m=audio 0 RTP/AVP 0']), local)).toMatchObject({ ok: false, status: 488 });
  });

  it('answers the RFC 3264 complement of the offered direction, media or session level', () => {
    const dir = (text: string) => answered(text).parsed.media[0]!.direction;
    expect(dir(offer(audio('0', 'a=sendonly')))).toBe('recvonly');
    expect(dir(offer(audio('0', 'a=inactive')))).toBe('inactive');
    expect(dir(offer(audio('0', 'a=recvonly')))).toBe('sendonly');
    expect(dir(offer(audio('0')))).toBe('sendrecv');
    expect(dir(offer(audio('0'), ['a=sendonly']))).toBe('recvonly');
    // the media level wins over the session level
    expect(dir(offer(audio('0', 'a=sendrecv'), ['a=sendonly']))).toBe('sendrecv');
  });

  it('accepts 10, 20 and 30 ms packets and always answers 20', () => {
    for (const p of [10, 20, 30]) {
      const a = answered(offer(audio('8', `a=ptime:${p}`)));
      expect(a.media.ptime).toBe(p);
      expect(a.parsed.media[0]!.ptime).toBe(20);
    }
  });

  it('refuses other streams with port 0, keeping one m= line per offered one', () => {
    const a = answered(offer(['m=video 5000 RTP/AVP 96', 'a=rtpmap:96 H264/90000', ...audio('0')]));
    expect(a.parsed.media.map((m) => [m.type, m.port])).toEqual([
      ['video', 0],
      ['audio', 20000],
    ]);
  });

  it('writes the public address into o= and c=, IPv4 or IPv6, and notes a c=0.0.0.0 hold', () => {
    const a = answered(offer(audio('0')));
    expect(a.parsed.connection).toEqual({ version: 4, ip: '127.0.0.1' });
    expect(a.parsed.origin.address).toBe('127.0.0.1');
    const six = answerOffer(offer(audio('0')), { ...local, publicAddress: '::1' });
    expect(six.ok && sdpTransform.parse(six.sdp).connection).toEqual({ version: 6, ip: '::1' });
    expect(answered(offer(audio('0', 'c=IN IP4 0.0.0.0'))).media.remote).toBeUndefined();
  });

  it('keeps o= version as given (a refresh answer is unchanged)', () => {
    const a = answerOffer(offer(audio('0')), { ...local, sessionVersion: 7 });
    const b = answerOffer(offer(audio('0')), { ...local, sessionVersion: 7 });
    expect(a.ok && b.ok && a.sdp === b.sdp).toBe(true);
  });

  it('never throws on garbage, answering 400 or 488', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.string({ maxLength: 100 }), (junk, media) => {
        const r = answerOffer(`${junk}\r\nm=audio ${media}\r\n`, local);
        if (!r.ok) expect([400, 488]).toContain(r.status);
      }),
    );
  });
});
