import type { SipHeader } from './headers.js';
import type { SipMessage } from './message.js';

/**
 * Writes a message to the wire: start line, headers in order, a Content-Length computed from the
 * body (any Content-Length header given is replaced, so the framing can never lie).
 */
export function serialize(msg: SipMessage): Buffer {
  const startLine = msg.kind === 'request' ? `${msg.method} ${msg.uri} SIP/2.0` : `SIP/2.0 ${msg.status} ${msg.reason}`;
  const lines = [startLine];
  for (const h of msg.headers) if (h.name !== 'Content-Length') lines.push(`${h.name}: ${h.value}`);
  lines.push(`Content-Length: ${msg.body.length}`);
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'utf8');
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}

/** Headers without Content-Length: what a parsed message's headers look like after `serialize`. */
export function withoutContentLength(headers: readonly SipHeader[]): SipHeader[] {
  return headers.filter((h) => h.name !== 'Content-Length');
}
