import { getHeader, type SipHeader } from './headers.js';

/** A parsed SIP message. Headers are in wire order under canonical names; the body is raw bytes. */
export interface SipRequest {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

export interface SipResponse {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

export type SipParseError =
  | 'too_large'
  | 'empty'
  | 'bad_start_line'
  | 'bad_header'
  | 'missing_header'
  | 'bad_cseq'
  | 'bad_content_length'
  | 'truncated_body';

export type ParseResult = { ok: true; message: SipMessage } | { ok: false; error: SipParseError; detail: string };

/** 64 KiB: RFC 3261 allows bigger, but no INVITE a trunk sends comes near it. */
export const DEFAULT_MAX_MESSAGE_BYTES = 65536;

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** CSeq: `digits SP method` (RFC 3261 §20.16); seq below 2**31. */
export function parseCSeq(value: string): CSeq | undefined {
  const m = /^(\d{1,10})\s+([A-Za-z0-9.!%*_+`'~-]+)$/.exec(value.trim());
  if (!m) return undefined;
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) return undefined;
  return { seq, method: m[2]! };
}

export function header(msg: SipMessage, name: string): string | undefined {
  return getHeader(msg.headers, name);
}
