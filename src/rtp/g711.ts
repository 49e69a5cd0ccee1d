import { ALAW_SILENCE, decodeAlaw, encodeAlaw } from '../audio/alaw.js';
import { decodeMulaw, encodeMulaw, MULAW_SILENCE } from '../audio/mulaw.js';
import type { G711 } from '../sip/sdp.js';

/** The codec functions of the negotiated G.711 law, chosen once per call, not per packet. */
export interface G711Codec {
  readonly name: G711;
  readonly silence: number;
  decode(src: Uint8Array, dst?: Int16Array): Int16Array;
  encode(src: Int16Array, dst?: Uint8Array): Uint8Array;
}

export const PCMU: G711Codec = { name: 'PCMU', silence: MULAW_SILENCE, decode: decodeMulaw, encode: encodeMulaw };
export const PCMA: G711Codec = { name: 'PCMA', silence: ALAW_SILENCE, decode: decodeAlaw, encode: encodeAlaw };

export function g711(name: G711): G711Codec {
  return name === 'PCMU' ? PCMU : PCMA;
}
