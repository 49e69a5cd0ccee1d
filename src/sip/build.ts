import { randomBytes } from 'node:crypto';
import { getHeader, getHeaders, type SipHeader } from './headers.js';
import type { SipRequest, SipResponse } from './message.js';

/** Responses and new in-dialog requests built from the request they answer or the dialog. */

export function randomToken(bytes = 8): string {
  return randomBytes(bytes).toString('hex');
}

export function newBranch(): string {
  return `z9hG4bK${randomToken(10)}`; // RFC 3261 §8.1.1.7 magic cookie
}

/** Adds `;tag=` to a To value that has none. */
export function withTag(to: string, tag: string): string {
  return /;\s*tag=/i.test(to) ? to : `${to};tag=${tag}`;
}

export interface ResponseExtras {
  toTag?: string;
  headers?: readonly SipHeader[];
  body?: Buffer;
  contentType?: string;
}

/**
 * A response to `req` (§8.2.6): every Via in order, From, To (tagged when given), Call-ID and
 * CSeq copied; Record-Route copied for responses that set up a dialog.
 */
export function buildResponse(req: SipRequest, status: number, reason: string, x: ResponseExtras = {}): SipResponse {
  const headers: SipHeader[] = [];
  for (const v of getHeaders(req.headers, 'Via')) headers.push({ name: 'Via', value: v });
  if (status > 100 && status < 300) {
    for (const rr of getHeaders(req.headers, 'Record-Route')) headers.push({ name: 'Record-Route', value: rr });
  }
  headers.push({ name: 'From', value: getHeader(req.headers, 'From') ?? '' });
  const to = getHeader(req.headers, 'To') ?? '';
  // a 100 Trying creates no dialog and carries no tag (§8.2.6.2)
  headers.push({ name: 'To', value: x.toTag && status > 100 ? withTag(to, x.toTag) : to });
  headers.push({ name: 'Call-ID', value: getHeader(req.headers, 'Call-ID') ?? '' });
  headers.push({ name: 'CSeq', value: getHeader(req.headers, 'CSeq') ?? '' });
  headers.push(...(x.headers ?? []));
  if (x.body && x.body.length > 0) headers.push({ name: 'Content-Type', value: x.contentType ?? 'application/sdp' });
  return { kind: 'response', status, reason, headers, body: x.body ?? Buffer.alloc(0) };
}
