/** RTP sequence arithmetic modulo 2^16 (RFC 3550 §A.1). */

/** a − b as the nearest signed distance, in −32768..32767: 0 − 65535 is +1. */
export function seqDelta(a: number, b: number): number {
  return ((((a - b) & 0xffff) + 32768) & 0xffff) - 32768;
}

/** Extends a 16-bit sequence number to the count nearest `near` (an extended number). */
export function extendSeq(seq: number, near: number): number {
  return near + seqDelta(seq, near & 0xffff);
}
