import { describe, expect, it } from 'vitest';
import { MediaScanner } from '../../../src/twilio/media-scan.js';
import { decodeCheckedPayload, parseTwilioMessage } from '../../../src/twilio/messages.js';
import { PAYLOAD, SID, base, variants } from './media-variants.js';

// The byte scanner must never accept a message the full path (parser + the media route's checks)
// would not bridge, and must return exactly the bytes and timestamp the full path would.

/** What the media route does with a message on the stream SID, or undefined if it is not bridged. */
function fullPath(text: string): { bytes: Buffer; timestampMs: number } | undefined {
  const r = parseTwilioMessage(text);
  if (!r.ok || r.msg.event !== 'media' || r.msg.streamSid !== SID) return undefined;
  if (r.msg.media.track && r.msg.media.track !== 'inbound') return undefined;
  const bytes = decodeCheckedPayload(r.msg.media.payload);
  const ts = Number(r.msg.media.timestamp);
  return bytes && Number.isFinite(ts) ? { bytes, timestampMs: ts } : undefined;
}

function agree(scanner: MediaScanner, text: string): boolean {
  const fast = scanner.scan(Buffer.from(text, 'utf8'));
  if (!fast) return false;
  const full = fullPath(text);
  expect({ text, full: full !== undefined }).toEqual({ text, full: true });
  expect({ text, bytes: Buffer.from(fast.bytes).toString('hex'), ts: fast.timestampMs }).toEqual({
    text,
    bytes: full!.bytes.toString('hex'),
    ts: full!.timestampMs,
  });
  return true;
}

describe('media byte scanner', () => {
  it("decodes Twilio's media message in its own key order, and in others, with or without whitespace", () => {
    const scanner = new MediaScanner(SID);
    const twilioOrder = `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"${PAYLOAD}"},"streamSid":"${SID}"}`;
    for (const text of [
      twilioOrder,
      JSON.stringify(base()),
      JSON.stringify(base(), null, 2),
      ` \r\n${twilioOrder}\t`,
    ]) {
      expect(agree(scanner, text)).toBe(true);
    }
    const r = scanner.scan(Buffer.from(twilioOrder));
    expect(r?.timestampMs).toBe(5);
    expect(Buffer.from(r!.bytes)).toEqual(Buffer.alloc(160, 0x7f));
  });

  it('agrees with the full path on every schema variant, and takes every plain one the full path bridges', () => {
    const scanner = new MediaScanner(SID);
    let accepted = 0;
    let missed = 0;
    for (const v of variants()) {
      for (const text of [JSON.stringify(v), JSON.stringify(v, null, 1)]) {
        if (agree(scanner, text)) accepted++;
        // escapes, extra keys and non-ASCII are left to the full path on purpose
        else if (
          fullPath(text) &&
          !/\\|extra|[^\x20-\x7e\n]/.test(text) &&
          (v as { media?: { track?: unknown } }).media?.track === 'inbound'
        )
          missed++;
      }
    }
    expect(accepted).toBeGreaterThan(100);
    expect(missed).toBe(0);
  });

  it('agrees with the full path on 30,000 byte-level mutations of a real message', () => {
    const scanner = new MediaScanner(SID);
    const good = Buffer.from(JSON.stringify(base()));
    const bytes = [
      0x22, 0x5c, 0x3a, 0x2c, 0x7b, 0x7d, 0x3d, 0x20, 0x0a, 0x00, 0x41, 0x2f, 0x2b, 0x30, 0x39, 0xc3, 0x7f, 0x5b,
    ];
    let seed = 99;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    let accepted = 0;
    for (let k = 0; k < 30_000; k++) {
      const b = [...good];
      for (let m = 0; m <= rnd(3); m++) {
        const at = rnd(b.length);
        const op = rnd(3);
        if (op === 0) b[at] = bytes[rnd(bytes.length)]!;
        else if (op === 1) b.splice(at, 1);
        else b.splice(at, 0, bytes[rnd(bytes.length)]!);
      }
      if (agree(scanner, Buffer.from(b).toString('latin1'))) accepted++;
    }
    expect(accepted).toBeGreaterThan(100); // mutations inside the payload still decode
  });

  it('leaves other streams, other tracks and other events to the full path', () => {
    const scanner = new MediaScanner(SID);
    const other = { ...base(), streamSid: 'MZother' };
    const outbound = { ...base(), media: { ...base().media, track: 'outbound' } };
    const mark = { event: 'mark', sequenceNumber: '4', streamSid: SID, mark: { name: 'x' } };
    for (const m of [other, outbound, mark, { ...base(), media: { ...base().media, payload: '' } }]) {
      expect(scanner.scan(Buffer.from(JSON.stringify(m)))).toBeUndefined();
    }
  });
});
