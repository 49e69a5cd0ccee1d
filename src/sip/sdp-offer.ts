import * as sdpTransform from 'sdp-transform';
import { sessionOf, type G711, type LocalMedia } from './sdp.js';

/**
 * The bridge as the offerer (RFC 3264 §5), for the second leg of a B2BUA transfer: one audio
 * stream with the caller's own codec (so RTP is relayed without transcoding) and
 * telephone-event when the caller's leg has it; the answer must keep that codec.
 */

export interface OfferMedia {
  codec: { payload: number; name: G711 };
  telephoneEvent?: { payload: number };
}

export interface AnsweredMedia {
  remote: { address: string; port: number };
  /** the answerer's payload type for telephone-event, when it kept it */
  telephoneEvent?: number;
}

export function buildOffer(local: LocalMedia, m: OfferMedia): string {
  const rtp: { payload: number; codec: string; rate: number }[] = [
    { payload: m.codec.payload, codec: m.codec.name, rate: 8000 },
  ];
  const fmtp: { payload: number; config: string }[] = [];
  if (m.telephoneEvent) {
    rtp.push({ payload: m.telephoneEvent.payload, codec: 'telephone-event', rate: 8000 });
    fmtp.push({ payload: m.telephoneEvent.payload, config: '0-15' });
  }
  return sdpTransform.write(
    sessionOf(local, [
      {
        type: 'audio',
        port: local.rtpPort,
        protocol: 'RTP/AVP',
        payloads: rtp.map((r) => r.payload).join(' '),
        rtp,
        fmtp,
        ptime: 20,
        direction: 'sendrecv',
      },
    ]),
  );
}

/** The answer to our offer: where to send, or why it cannot be used (the leg then fails with 488). */
export function readAnswer(text: string, m: OfferMedia): AnsweredMedia | { error: string } {
  let s: sdpTransform.SessionDescription;
  try {
    s = sdpTransform.parse(text);
  } catch {
    return { error: 'the answer is not SDP' };
  }
  const audio = (Array.isArray(s.media) ? s.media : []).find((x) => x.type === 'audio' && x.port > 0);
  if (!audio) return { error: 'the answer refused the audio stream' };
  const pts = String(audio.payloads ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const named = (pt: number) => (audio.rtp ?? []).find((r) => r.payload === pt);
  const sameCodec = pts.some((pt) => {
    const r = named(pt);
    return r ? String(r.codec).toUpperCase() === m.codec.name && Number(r.rate) === 8000 : pt === m.codec.payload;
  });
  if (!sameCodec) return { error: `the answer does not keep ${m.codec.name}` };
  const c = audio.connection ?? s.connection;
  if (!c || c.ip === '0.0.0.0' || c.ip === '::') return { error: 'the answer has no address to send to' };
  const te = pts.find((pt) => String(named(pt)?.codec ?? '').toLowerCase() === 'telephone-event');
  return { remote: { address: c.ip, port: audio.port }, ...(te !== undefined ? { telephoneEvent: te } : {}) };
}
