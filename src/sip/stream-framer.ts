import { getHeader } from './headers.js';
import { DEFAULT_MAX_MESSAGE_BYTES, type ParseResult } from './message.js';
import { findHeaderEnd, parseHeaderLines, parseMessage } from './parse.js';

export type FrameResult = ParseResult;

/**
 * Cuts a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3), whatever the
 * chunking. Holds at most `maxBytes` of one unfinished message: a peer that sends more without
 * completing a message, or a Content-Length that cannot frame, breaks the stream for good
 * (`broken`), since no resynchronisation is possible; the connection must then be closed.
 */
export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** where the search for the blank line resumes: bytes before it hold no complete separator */
  private scanFrom = 0;
  private isBroken = false;

  constructor(private readonly maxBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  get broken(): boolean {
    return this.isBroken;
  }

  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FrameResult[] {
    if (this.isBroken) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: FrameResult[] = [];
    for (;;) {
      let lead = 0;
      while (lead < this.buf.length && (this.buf[lead] === 0x0d || this.buf[lead] === 0x0a)) lead++;
      if (lead > 0) {
        this.buf = this.buf.subarray(lead); // keep-alive CRLFs between messages
        this.scanFrom = Math.max(0, this.scanFrom - lead);
      }
      if (this.buf.length === 0) break;
      const end = findHeaderEnd(this.buf, Math.max(0, this.scanFrom - 3));
      if (!end) {
        this.scanFrom = this.buf.length;
        if (this.buf.length > this.maxBytes) out.push(this.breakStream(`headers exceed ${this.maxBytes} bytes`));
        break;
      }
      const headers = parseHeaderLines(this.buf.toString('utf8', 0, end.at).split(/\r?\n/).slice(1));
      const clRaw = typeof headers === 'string' ? undefined : getHeader(headers, 'Content-Length');
      if (clRaw !== undefined && !/^\d{1,9}$/.test(clRaw)) {
        out.push(this.breakStream('Content-Length cannot frame the stream', 'bad_content_length'));
        break;
      }
      const total = end.at + end.sepLen + (clRaw === undefined ? 0 : Number(clRaw));
      if (total > this.maxBytes) {
        out.push(this.breakStream(`message of ${total} bytes > ${this.maxBytes}`));
        break;
      }
      if (this.buf.length < total) {
        this.scanFrom = end.at; // the separator found stays found on the next push
        break;
      }
      out.push(parseMessage(this.buf.subarray(0, total), { maxBytes: this.maxBytes, stream: true }));
      this.buf = this.buf.subarray(total);
      this.scanFrom = 0;
    }
    if (this.buf.length === 0) this.buf = Buffer.alloc(0);
    return out;
  }

  private breakStream(detail: string, error: 'too_large' | 'bad_content_length' = 'too_large'): FrameResult {
    this.isBroken = true;
    this.buf = Buffer.alloc(0);
    return { ok: false, error, detail };
  }
}
