import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getHeader, type SipHeader } from '../../../src/sip/headers.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message.js';
import { Uac, type InviteResult } from '../../../src/sip/uac.js';
import { topVia, type Destination } from '../../../src/sip/via.js';

/**
 * The bridge's own INVITE client transaction and dialog (src/sip/uac.ts) on fake timers, against
 * what a far end (or an attacker) may send: retransmitted and duplicated responses, a 2xx that
 * crosses our CANCEL, silence, and a BYE from somewhere else than the dialog's peer.
 */

const DEST: Destination = { transport: 'udp', address: '127.0.0.9', port: 5090 };

function rig() {
  const sent: { msg: SipMessage; dest?: Destination }[] = [];
  const transport = {
    send: (msg: SipMessage, dest: Destination) => void sent.push({ msg, dest }),
    sendResponse: (msg: SipResponse) => void sent.push({ msg }),
  };
  const uac = new Uac(transport, { contact: 'sip:bridge@127.0.0.1:5060', viaHost: '127.0.0.1', viaPort: 5060 });
  const requests = (method: string) =>
    sent.map((s) => s.msg).filter((m): m is SipRequest => m.kind === 'request' && m.method === method);
  return { uac, sent, requests };
}

function responseTo(req: SipRequest, status: number, extra: SipHeader[] = [], body = ''): SipResponse {
  const to = getHeader(req.headers, 'To')!;
  return {
    kind: 'response',
    status,
    reason: 'x',
    headers: [
      { name: 'Via', value: getHeader(req.headers, 'Via')! },
      { name: 'From', value: getHeader(req.headers, 'From')! },
      { name: 'To', value: status > 100 ? `${to};tag=far` : to },
      { name: 'Call-ID', value: getHeader(req.headers, 'Call-ID')! },
      { name: 'CSeq', value: getHeader(req.headers, 'CSeq')! },
      ...extra,
    ],
    body: Buffer.from(body),
  };
}

const offer = (uac: Uac, signal?: AbortSignal) =>
  uac.invite({
    uri: 'sip:human@127.0.0.9:5090',
    dest: DEST,
    from: '<sip:+15557654321@127.0.0.1>',
    sdp: 'v=0\r\n',
    timeoutMs: 10_000,
    ...(signal ? { signal } : {}),
  });

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('the UAC (a B2BUA second leg)', () => {
  it('retransmits the INVITE from T1 doubling until a provisional, then waits; Timer B ends a silent one with 408', async () => {
    const { uac, requests } = rig();
    const silent = offer(uac);
    await vi.advanceTimersByTimeAsync(500 + 1000 + 2000 - 1);
    expect(requests('INVITE')).toHaveLength(3); // 0, 500, 1500 ms
    await vi.advanceTimersByTimeAsync(1);
    expect(requests('INVITE')).toHaveLength(4); // 3500 ms
    await vi.advanceTimersByTimeAsync(32_000);
    expect(await silent).toEqual({ ok: false, status: 408 });

    const ringing = rig();
    const p = offer(ringing.uac);
    const inv = ringing.requests('INVITE')[0]!;
    expect(ringing.uac.handleResponse(responseTo(inv, 180))).toBe(true);
    await vi.advanceTimersByTimeAsync(8000);
    expect(ringing.requests('INVITE')).toHaveLength(1); // a provisional stops the retransmissions
    ringing.uac.handleResponse(responseTo(inv, 200, [{ name: 'Contact', value: '<sip:human@127.0.0.9:5090>' }]));
    expect((await p).ok).toBe(true);
  });

  it('a 2xx retransmitted or duplicated gets the same ACK again, never a second dialog', async () => {
    const { uac, requests } = rig();
    const p = offer(uac);
    const inv = requests('INVITE')[0]!;
    const ok = responseTo(inv, 200, [{ name: 'Contact', value: '<sip:human@127.0.0.9:5090>' }], 'v=0\r\n');
    uac.handleResponse(ok);
    const r = (await p) as Extract<InviteResult, { ok: true }>;
    expect(r.ok).toBe(true);
    for (let i = 0; i < 3; i++) expect(uac.handleResponse(ok)).toBe(true);
    const acks = requests('ACK');
    expect(acks).toHaveLength(4);
    expect(new Set(acks.map((a) => getHeader(a.headers, 'Via'))).size).toBe(1); // the same ACK each time
    expect(acks[0]!.uri).toBe('sip:human@127.0.0.9:5090'); // to the 2xx's Contact
    expect(uac.activeDialogs).toBe(1);
  });

  it('a failure is ACKed in its own transaction and reported with its status; its retransmission is ACKed again', async () => {
    const { uac, requests } = rig();
    const p = offer(uac);
    const inv = requests('INVITE')[0]!;
    const busy = responseTo(inv, 486);
    uac.handleResponse(busy);
    expect(await p).toEqual({ ok: false, status: 486 });
    uac.handleResponse(busy);
    const acks = requests('ACK');
    expect(acks).toHaveLength(2);
    expect(topVia(acks[0]!.headers)?.params.branch).toBe(topVia(inv.headers)?.params.branch);
    expect(uac.activeDialogs).toBe(0);
  });

  it('rings past the deadline or the caller leaves: CANCEL after a provisional; a 2xx that crosses it is BYEd', async () => {
    const { uac, requests } = rig();
    const caller = new AbortController();
    const p = offer(uac, caller.signal);
    const inv = requests('INVITE')[0]!;
    caller.abort(); // before any provisional: the CANCEL waits for one (RFC 3261 §9.1)
    expect(requests('CANCEL')).toHaveLength(0);
    uac.handleResponse(responseTo(inv, 180));
    expect(requests('CANCEL')).toHaveLength(1);
    // the far end answered anyway: the dialog is torn down at once, and nobody is joined
    uac.handleResponse(responseTo(inv, 200, [{ name: 'Contact', value: '<sip:human@127.0.0.9:5090>' }]));
    expect(await p).toEqual({ ok: false, status: 408 });
    expect(requests('BYE')).toHaveLength(1);
    expect(uac.activeDialogs).toBe(0);
  });

  it("answers the peer's BYE once and ends the dialog; a BYE with the dialog's Call-ID from another address is not its", async () => {
    const { uac, requests, sent } = rig();
    const p = offer(uac);
    const inv = requests('INVITE')[0]!;
    uac.handleResponse(responseTo(inv, 200, [{ name: 'Contact', value: '<sip:human@127.0.0.9:5090>' }]));
    const r = (await p) as Extract<InviteResult, { ok: true }>;
    const ended: string[] = [];
    r.dialog.onEnded = (why) => ended.push(why);
    const bye: SipRequest = {
      kind: 'request',
      method: 'BYE',
      uri: 'sip:bridge@127.0.0.1:5060',
      headers: [
        { name: 'Via', value: 'SIP/2.0/UDP 127.0.0.9:5090;branch=z9hG4bKbye1' },
        { name: 'From', value: '<sip:human@127.0.0.9>;tag=far' },
        { name: 'To', value: `${getHeader(inv.headers, 'From')!}` },
        { name: 'Call-ID', value: getHeader(inv.headers, 'Call-ID')! },
        { name: 'CSeq', value: '1 BYE' },
      ],
      body: Buffer.alloc(0),
    };
    // a stranger who learnt the Call-ID: not handled as the dialog's (the UAS then answers it as unknown)
    expect(uac.handleRequest(bye, { transport: 'udp', address: '127.0.0.66', port: 5090 })).toBe(false);
    expect(ended).toEqual([]);
    const before = sent.length;
    expect(uac.handleRequest(bye, { transport: 'udp', address: '127.0.0.9', port: 5090 })).toBe(true);
    expect(sent.slice(before).map((s) => (s.msg as SipResponse).status)).toEqual([200]);
    expect(ended).toEqual(['bye']);
    expect(uac.activeDialogs).toBe(0);
    // our hang-up after theirs sends nothing
    r.dialog.hangup();
    expect(requests('BYE')).toHaveLength(0);
  });

  it('ignores a response to a branch it never sent', () => {
    const { uac } = rig();
    const stray: SipResponse = {
      kind: 'response',
      status: 200,
      reason: 'OK',
      headers: [
        { name: 'Via', value: 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotours' },
        { name: 'CSeq', value: '1 INVITE' },
      ],
      body: Buffer.alloc(0),
    };
    expect(uac.handleResponse(stray)).toBe(false);
  });
});
