import { canonicalName, getHeader, type SipHeader } from './headers.js';
import { DEFAULT_MAX_MESSAGE_BYTES, parseCSeq, type ParseResult, type SipParseError } from './message.js';

/**
 * Parses one SIP message (a UDP datagram, or a frame cut from a TCP stream by the framer).
 * Never throws: anything a peer sends gives a message or an error value.
 */

const TOKEN = /^[A-Za-z0-9.!%*_+`'~-]+$/;
const REQUEST_LINE = /^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP\/2\.0$/;
const STATUS_LINE = /^SIP\/2\.0 ([1-6]\d\d) ?(.*)$/;
const MANDATORY = ['Via', 'From', 'To', 'Call-ID', 'CSeq'] as const;

export interface ParseOptions {
  maxBytes?: number;
  /**
   * Stream transports must carry Content-Length (RFC 3261 §18.3); a datagram's body is what
   * follows the headers, cut to Content-Length when given.
   */
  stream?: boolean;
}

function fail(error: SipParseError, detail: string): ParseResult {
  return { ok: false, error, detail };
}

/** Index of the blank line ending the header section and the length of that separator. */
export function findHeaderEnd(buf: Buffer, from = 0): { at: number; sepLen: number } | undefined {
  const crlf = buf.indexOf('\r\n\r\n', from, 'latin1');
  const lf = buf.indexOf('\n\n', from, 'latin1');
  if (crlf < 0 && lf < 0) return undefined;
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return { at: lf, sepLen: 2 };
  return { at: crlf, sepLen: 4 };
}

/** Unfolds continuation lines (RFC 3261 §7.3.1) and splits `name: value`. */
export function parseHeaderLines(lines: readonly string[]): SipHeader[] | string {
  const out: { name: string; value: string }[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    if (line[0] === ' ' || line[0] === '\t') {
      const prev = out[out.length - 1];
      if (!prev) return 'continuation line before any header';
      prev.value = `${prev.value} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return `no colon in header line`;
    const name = line.slice(0, colon).trim();
    if (!TOKEN.test(name)) return `bad header name`;
    out.push({ name: canonicalName(name), value: line.slice(colon + 1).trim() });
  }
  return out;
}

export function parseMessage(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  const max = opts.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (buf.length > max) return fail('too_large', `${buf.length} bytes > ${max}`);
  let start = 0;
  // keep-alive CRLFs (RFC 5626 §3.5.1) and stray blank lines before the start line
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start === buf.length) return fail('empty', 'no message');
  const end = findHeaderEnd(buf, start);
  // a datagram may end right after the last header without the blank line
  const headEnd = end ? end.at : buf.length;
  const bodyStart = end ? end.at + end.sepLen : buf.length;
  const head = buf.toString('utf8', start, headEnd);
  const lines = head.split(/\r?\n/);
  const startLine = lines[0] ?? '';
  const headers = parseHeaderLines(lines.slice(1));
  if (typeof headers === 'string') return fail('bad_header', headers);

  const clRaw = getHeader(headers, 'Content-Length');
  let body = buf.subarray(bodyStart);
  if (clRaw !== undefined) {
    if (!/^\d{1,9}$/.test(clRaw)) return fail('bad_content_length', 'not a number');
    const cl = Number(clRaw);
    if (cl > body.length) return fail('truncated_body', `Content-Length ${cl} > ${body.length} bytes`);
    body = body.subarray(0, cl); // bytes past Content-Length are discarded (§18.3)
  } else if (opts.stream) {
    body = body.subarray(0, 0);
  }
  body = Buffer.from(body); // own copy: the caller's buffer may be reused

  for (const name of MANDATORY) {
    if (getHeader(headers, name) === undefined) return fail('missing_header', name);
  }
  const cseq = parseCSeq(getHeader(headers, 'CSeq')!);
  if (!cseq) return fail('bad_cseq', 'CSeq is not "number METHOD"');

  const req = REQUEST_LINE.exec(startLine);
  if (req) {
    const method = req[1]!;
    if (cseq.method !== method) {
      return fail('bad_cseq', 'CSeq method differs from the request method');
    }
    return { ok: true, message: { kind: 'request', method, uri: req[2]!, headers, body } };
  }
  const st = STATUS_LINE.exec(startLine);
  if (st) {
    return { ok: true, message: { kind: 'response', status: Number(st[1]), reason: st[2]!, headers, body } };
  }
  return fail('bad_start_line', 'neither a request line nor a status line');
}
