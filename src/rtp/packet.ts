/**
 * RTP packets (RFC 3550 §5.1): the fixed header, CSRCs, a header extension and padding. Parsing
 * never throws and returns undefined for anything that is not a version-2 RTP packet; the payload
 * is a view into the datagram (no copy on the 50-per-second path).
 */

export interface RtpExtension {
  readonly profile: number;
  /** a multiple of 4 bytes */
  readonly data: Buffer;
}

export interface RtpPacket {
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrc: readonly number[];
  readonly extension?: RtpExtension;
  readonly payload: Buffer;
  /** padding bytes the packet carried (the count byte included); 0 when none */
  readonly padding: number;
}

export type RtpInit = Omit<RtpPacket, 'csrc' | 'padding'> & { csrc?: readonly number[]; padding?: number };

/** RTCP sharing the port (RFC 5761 §4): packet types 192–223 in the second byte. */
export function isRtcp(buf: Buffer): boolean {
  return buf.length >= 2 && buf[1]! >= 192 && buf[1]! <= 223;
}

export function parseRtp(buf: Buffer): RtpPacket | undefined {
  if (buf.length < 12) return undefined;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2 || isRtcp(buf)) return undefined;
  const cc = b0 & 0x0f;
  let off = 12 + cc * 4;
  if (buf.length < off) return undefined;
  const csrc: number[] = [];
  for (let i = 0; i < cc; i++) csrc.push(buf.readUInt32BE(12 + i * 4));
  let extension: RtpExtension | undefined;
  if ((b0 & 0x10) !== 0) {
    if (buf.length < off + 4) return undefined;
    const profile = buf.readUInt16BE(off);
    const words = buf.readUInt16BE(off + 2);
    const end = off + 4 + words * 4;
    if (buf.length < end) return undefined;
    extension = { profile, data: buf.subarray(off + 4, end) };
    off = end;
  }
  let end = buf.length;
  let padding = 0;
  if ((b0 & 0x20) !== 0) {
    padding = buf[buf.length - 1]!;
    if (padding === 0 || off + padding > buf.length) return undefined;
    end -= padding;
  }
  const b1 = buf[1]!;
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrc,
    ...(extension ? { extension } : {}),
    payload: buf.subarray(off, end),
    padding,
  };
}

export function buildRtp(p: RtpInit): Buffer {
  const csrc = p.csrc ?? [];
  if (csrc.length > 15) throw new RangeError('at most 15 CSRCs');
  const ext = p.extension;
  if (ext && ext.data.length % 4 !== 0) throw new RangeError('extension data must be whole 32-bit words');
  const padding = p.padding ?? 0;
  if (padding < 0 || padding > 255) throw new RangeError('padding is 0..255 bytes');
  const headLen = 12 + csrc.length * 4 + (ext ? 4 + ext.data.length : 0);
  const buf = Buffer.alloc(headLen + p.payload.length + padding);
  buf[0] = 0x80 | (padding > 0 ? 0x20 : 0) | (ext ? 0x10 : 0) | csrc.length;
  buf[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  buf.writeUInt16BE(p.sequence & 0xffff, 2);
  buf.writeUInt32BE(p.timestamp >>> 0, 4);
  buf.writeUInt32BE(p.ssrc >>> 0, 8);
  let off = 12;
  for (const c of csrc) {
    buf.writeUInt32BE(c >>> 0, off);
    off += 4;
  }
  if (ext) {
    buf.writeUInt16BE(ext.profile, off);
    buf.writeUInt16BE(ext.data.length / 4, off + 2);
    ext.data.copy(buf, off + 4);
    off += 4 + ext.data.length;
  }
  p.payload.copy(buf, off);
  if (padding > 0) buf[buf.length - 1] = padding;
  return buf;
}
