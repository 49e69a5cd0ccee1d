import { isIPv6 } from 'node:net';
import * as sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';

/**
 * SDP offer/answer (RFC 3264) for a G.711 leg: the first PCMU or PCMA in the offer's own order,
 * telephone-event when offered, the complementary direction, and `c=` set to the address the peer
 * can reach (SIP_PUBLIC_ADDRESS), never to whatever the socket happens to be bound to.
 */

export type G711 = 'PCMU' | 'PCMA';
export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface LocalMedia {
  /** written into o= and c=: what the peer can reach */
  publicAddress: string;
  rtpPort: number;
  sessionId: string;
  /** raise it when the answer changes; keep it for an unchanged answer (a session refresh) */
  sessionVersion: number;
}

export interface Negotiated {
  codec: { payload: number; name: G711 };
  telephoneEvent?: { payload: number };
  /** where the offer says to send RTP; undefined for the old `c=0.0.0.0` hold (RFC 3264 §8.4) */
  remote?: { address: string; port: number };
  offered: Direction;
  answered: Direction;
  /** the offer's a=ptime, when given (10, 20 and 30 ms packets are all received alike) */
  ptime?: number;
}

export type AnswerResult =
  { ok: true; sdp: string; media: Negotiated } | { ok: false; status: 400 | 488; reason: string };

/** RFC 3264 §6.1: what the answerer says for each offered direction. */
export const COMPLEMENT: Readonly<Record<Direction, Direction>> = {
  sendrecv: 'sendrecv',
  sendonly: 'recvonly',
  recvonly: 'sendonly',
  inactive: 'inactive',
};

const STATIC: Readonly<Record<number, G711>> = { 0: 'PCMU', 8: 'PCMA' };

function payloadsOf(m: MediaDescription): number[] {
  return String(m.payloads ?? '')
    .split(/\s+/)
    .filter((s) => /^\d{1,3}$/.test(s))
    .map(Number);
}

function rtpmapOf(m: MediaDescription, pt: number): { codec: string; rate: number } | undefined {
  const r = (m.rtp ?? []).find((x) => x.payload === pt);
  return r ? { codec: String(r.codec).toUpperCase(), rate: Number(r.rate) } : undefined;
}

function pickCodec(m: MediaDescription): { payload: number; name: G711 } | undefined {
  for (const pt of payloadsOf(m)) {
    const map = rtpmapOf(m, pt);
    // a static type needs no rtpmap; a dynamic one must say PCMU/PCMA at 8000 Hz
    const name = map ? (map.rate === 8000 ? map.codec : undefined) : STATIC[pt];
    if (name === 'PCMU' || name === 'PCMA') return { payload: pt, name };
  }
  return undefined;
}

function pickTelephoneEvent(m: MediaDescription): number | undefined {
  return payloadsOf(m).find((pt) => {
    const map = rtpmapOf(m, pt);
    return map?.codec === 'TELEPHONE-EVENT' && map.rate === 8000;
  });
}

function usable(m: MediaDescription): boolean {
  return m.type === 'audio' && m.port > 0 && m.protocol?.toUpperCase() === 'RTP/AVP';
}

function directionOf(session: SessionDescription, m: MediaDescription): Direction {
  return m.direction ?? session.direction ?? 'sendrecv';
}

function parseOffer(text: string): SessionDescription | undefined {
  try {
    const s = sdpTransform.parse(text);
    return Array.isArray(s.media) && s.media.every((m) => typeof m.type === 'string' && Number.isInteger(m.port))
      ? s
      : undefined;
  } catch {
    return undefined;
  }
}

/** Our session description around `media`: o= and c= name the address the peer can reach. */
export function sessionOf(local: LocalMedia, media: MediaDescription[]): SessionDescription {
  const ipVer = isIPv6(local.publicAddress) ? 6 : 4;
  return {
    version: 0,
    origin: {
      username: '-',
      sessionId: local.sessionId,
      sessionVersion: local.sessionVersion,
      netType: 'IN',
      ipVer,
      address: local.publicAddress,
    },
    name: '-',
    connection: { version: ipVer, ip: local.publicAddress },
    timing: { start: 0, stop: 0 },
    media,
  };
}

export function answerOffer(offerText: string, local: LocalMedia): AnswerResult {
  const offer = parseOffer(offerText);
  if (!offer || offer.media.length === 0) return { ok: false, status: 400, reason: 'the offer is not SDP with media' };
  const chosenIndex = offer.media.findIndex((m) => usable(m) && pickCodec(m) !== undefined);
  if (chosenIndex < 0) return { ok: false, status: 488, reason: 'no PCMU or PCMA over RTP/AVP in the offer' };
  const m = offer.media[chosenIndex]!;
  const codec = pickCodec(m)!;
  const te = pickTelephoneEvent(m);
  const offered = directionOf(offer, m);
  const answered = COMPLEMENT[offered];
  const c = m.connection ?? offer.connection;
  const remote = c && c.ip !== '0.0.0.0' && c.ip !== '::' ? { address: c.ip, port: m.port } : undefined;

  const media: MediaDescription[] = offer.media.map((om, i) => {
    // RFC 3264 §6: one m= line per offered one, a refused stream with port 0
    if (i !== chosenIndex) {
      return {
        type: om.type,
        port: 0,
        protocol: om.protocol,
        payloads: String(payloadsOf(om)[0] ?? 0),
        rtp: [],
        fmtp: [],
      };
    }
    const rtp: { payload: number; codec: string; rate: number }[] = [
      { payload: codec.payload, codec: codec.name, rate: 8000 },
    ];
    const fmtp = [];
    if (te !== undefined) {
      rtp.push({ payload: te, codec: 'telephone-event', rate: 8000 });
      fmtp.push({ payload: te, config: '0-15' });
    }
    return {
      type: 'audio',
      port: local.rtpPort,
      protocol: 'RTP/AVP',
      payloads: te === undefined ? `${codec.payload}` : `${codec.payload} ${te}`,
      rtp,
      fmtp,
      ptime: 20,
      direction: answered,
    };
  });
  const answer = sessionOf(local, media);
  return {
    ok: true,
    sdp: sdpTransform.write(answer),
    media: {
      codec,
      ...(te !== undefined ? { telephoneEvent: { payload: te } } : {}),
      ...(remote ? { remote } : {}),
      offered,
      answered,
      ...(m.ptime !== undefined ? { ptime: m.ptime } : {}),
    },
  };
}
