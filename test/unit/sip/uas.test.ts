import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { getHeader } from '../../../src/sip/headers.js';
import type { SipMessage, SipRequest, SipResponse } from '../../../src/sip/message.js';
import type { SipSource } from '../../../src/sip/transport.js';
import {
  Uas,
  type EndReason,
  type IncomingCall,
  type InviteOutcome,
  type ScreenVerdict,
} from '../../../src/sip/uas.js';

const SRC: SipSource = { transport: 'udp', address: '127.0.0.2', port: 5070 };
const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/AVP 0\r\n';

function request(
  method: string,
  opts: { branch?: string; toTag?: string; cseq?: number; callId?: string } = {},
): SipRequest {
  const to = `<sip:+15551234567@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}`;
  return {
    kind: 'request',
    method,
    uri: 'sip:+15551234567@127.0.0.1',
    headers: [
      {
        name: 'Via',
        value: `SIP/2.0/UDP 127.0.0.2:5070;branch=${opts.branch ?? 'z9hG4bK1'};received=127.0.0.2;rport=5070`,
      },
      { name: 'From', value: '<sip:caller@127.0.0.2>;tag=caller' },
      { name: 'To', value: to },
      { name: 'Call-ID', value: opts.callId ?? 'call-1' },
      {
        name: 'CSeq',
        value: `${opts.cseq ?? 1} ${method === 'ACK' || method === 'CANCEL' ? (method === 'ACK' ? 'ACK' : 'CANCEL') : method}`,
      },
      { name: 'Contact', value: '<sip:caller@127.0.0.2:5070>' },
    ],
    body: Buffer.alloc(0),
  };
}

function setup(
  outcome: () => Promise<InviteOutcome> = async () => ({ answer: SDP }),
  screen?: (req: SipRequest) => ScreenVerdict,
) {
  const responses: SipResponse[] = [];
  const requests: SipRequest[] = [];
  const ended: EndReason[] = [];
  const calls: IncomingCall[] = [];
  const uas = new Uas(
    {
      sendResponse: (r) => responses.push(r),
      send: (m: SipMessage) => {
        if (m.kind === 'request') requests.push(m);
      },
    },
    {
      onInvite: (c) => {
        calls.push(c);
        return outcome();
      },
      onEnded: (_c, why) => ended.push(why),
      ...(screen ? { screen } : {}),
    },
    { contact: 'sip:bridge@127.0.0.1:5060', viaHost: '127.0.0.1', viaPort: 5060 },
  );
  const statuses = () => responses.map((r) => r.status);
  const toTag = () => /tag=([^;]+)/.exec(getHeader(responses.find((r) => r.status === 180)!.headers, 'To')!)![1]!;
  return { uas, responses, requests, ended, calls, statuses, toTag };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('UAS INVITE transaction', () => {
  it('sends 100 at once, 180, then 200 with SDP retransmitted T1 doubling to T2 until the ACK', async () => {
    const t = setup();
    t.uas.handle(request('INVITE'), SRC);
    expect(t.statuses()).toEqual([100, 180]);
    expect(getHeader(t.responses[0]!.headers, 'To')).not.toMatch(/tag=/);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.statuses()).toEqual([100, 180, 200]);
    const ok = t.responses[2]!;
    expect(ok.body.toString()).toBe(SDP);
    expect(getHeader(ok.headers, 'Contact')).toBe('<sip:bridge@127.0.0.1:5060>');
    expect(getHeader(ok.headers, 'Content-Type')).toBe('application/sdp');
    const count200 = () => t.statuses().filter((s) => s === 200).length;
    await vi.advanceTimersByTimeAsync(600); // one retransmission (the schedule: next test)
    expect(count200()).toBeGreaterThan(1);
    t.uas.handle(request('ACK', { toTag: t.toTag(), branch: 'z9hG4bKack' }), SRC);
    const after = count200();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(count200()).toBe(after);
    expect(t.requests).toEqual([]);
    expect(t.ended).toEqual([]);
  });

  it('follows the retransmission schedule exactly on simulated time', async () => {
    const t = setup();
    t.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(0);
    const times: number[] = [];
    const start = Date.now();
    let seen = 1;
    for (let ms = 0; ms < 20_000; ms += 100) {
      await vi.advanceTimersByTimeAsync(100);
      const n = t.statuses().filter((s) => s === 200).length;
      if (n > seen) times.push(Date.now() - start);
      seen = n;
    }
    expect(times).toEqual([500, 1500, 3500, 7500, 11500, 15500, 19500]);
  });

  it('sends BYE when no ACK comes within 32 s', async () => {
    const t = setup();
    t.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(31_900);
    expect(t.requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(t.requests.map((r) => r.method)).toEqual(['BYE']);
    const bye = t.requests[0]!;
    expect(bye.uri).toBe('sip:caller@127.0.0.2:5070');
    expect(getHeader(bye.headers, 'From')).toContain(`tag=${t.toTag()}`);
    expect(getHeader(bye.headers, 'To')).toBe('<sip:caller@127.0.0.2>;tag=caller');
    expect(getHeader(bye.headers, 'CSeq')).toBe('2 BYE');
    expect(t.ended).toEqual(['no_ack']);
    expect(t.uas.activeCalls).toBe(0);
  });

  it('absorbs a retransmitted INVITE: one call, the last response resent', async () => {
    const t = setup(() => new Promise(() => {}));
    t.uas.handle(request('INVITE'), SRC);
    t.uas.handle(request('INVITE'), SRC);
    expect(t.calls).toHaveLength(1);
    expect(t.statuses()).toEqual([100, 180, 180]);
  });

  it('answers CANCEL before the 200 with 200 and 487, aborting the call, then takes the ACK', async () => {
    let resolve!: (o: InviteOutcome) => void;
    const t = setup(() => new Promise((r) => (resolve = r)));
    t.uas.handle(request('INVITE'), SRC);
    t.uas.handle(request('CANCEL'), SRC);
    expect(t.statuses()).toEqual([100, 180, 200, 487]);
    expect(getHeader(t.responses[2]!.headers, 'CSeq')).toBe('1 CANCEL');
    expect(t.calls[0]!.signal.aborted).toBe(true);
    expect(t.ended).toEqual(['cancel']);
    resolve({ answer: SDP }); // a late answer changes nothing
    await vi.advanceTimersByTimeAsync(0);
    expect(t.statuses().filter((s) => s === 200)).toHaveLength(1);
    t.uas.handle(request('ACK'), SRC);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.statuses().filter((s) => s === 487)).toHaveLength(1);
    expect(t.uas.activeCalls).toBe(0);
  });

  it('answers a failure code and 500 when the application throws', async () => {
    const t = setup(async () => ({ status: 488 }));
    t.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.statuses()).toEqual([100, 180, 488]);
    const u = setup(async () => {
      throw new Error('boom');
    });
    u.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(0);
    expect(u.statuses()).toEqual([100, 180, 500]);
  });
});

describe('UAS in-dialog and out-of-dialog requests', () => {
  it('answers BYE with 200 and ends the call once; a retransmitted BYE gets the same 200', async () => {
    const t = setup();
    t.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(0);
    t.uas.handle(request('ACK', { toTag: t.toTag(), branch: 'z9hG4bKack' }), SRC);
    const bye = request('BYE', { toTag: t.toTag(), branch: 'z9hG4bKbye', cseq: 2 });
    t.uas.handle(bye, SRC);
    t.uas.handle(bye, SRC);
    expect(t.statuses().slice(-2)).toEqual([200, 200]);
    expect(t.ended).toEqual(['bye']);
    t.uas.handle(request('BYE', { toTag: 'other', branch: 'z9hG4bKx', cseq: 3 }), SRC);
    expect(t.statuses().at(-1)).toBe(481);
  });

  it('answers OPTIONS 200 with Allow, and an unknown method 405', () => {
    const t = setup();
    t.uas.handle(request('OPTIONS', { branch: 'z9hG4bKo' }), SRC);
    expect(t.statuses()).toEqual([200]);
    expect(getHeader(t.responses[0]!.headers, 'Allow')).toContain('INVITE');
    t.uas.handle(request('SUBSCRIBE', { branch: 'z9hG4bKs' }), SRC);
    expect(t.statuses()).toEqual([200, 405]);
  });

  it('hangs up an answered call with BYE, retransmitted until a final response', async () => {
    const t = setup();
    t.uas.handle(request('INVITE'), SRC);
    await vi.advanceTimersByTimeAsync(0);
    t.uas.handle(request('ACK', { toTag: t.toTag(), branch: 'z9hG4bKack' }), SRC);
    t.calls[0]!.hangup();
    expect(t.ended).toEqual(['local']);
    await vi.advanceTimersByTimeAsync(1600);
    expect(t.requests.map((r) => r.method)).toEqual(['BYE', 'BYE', 'BYE']);
    const bye = t.requests[0]!;
    t.uas.handle({ kind: 'response', status: 481, reason: 'Gone', headers: bye.headers, body: Buffer.alloc(0) }, SRC);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(t.requests).toHaveLength(3);
  });
});

describe('UAS screening hook', () => {
  it('sends nothing at all for a dropped INVITE, and keeps no state', () => {
    const t = setup(undefined, () => ({ drop: true }));
    t.uas.handle(request('INVITE'), SRC);
    t.uas.handle(request('INVITE'), SRC);
    expect(t.responses).toEqual([]);
    expect(t.calls).toEqual([]);
    expect(t.uas.activeCalls).toBe(0);
  });

  it('answers a rejected INVITE with only its final response, then takes the retry on the same Call-ID', async () => {
    let n = 0;
    const t = setup(undefined, () =>
      n++ === 0
        ? { reject: 407, headers: [{ name: 'Proxy-Authenticate', value: 'Digest realm="r"' }] }
        : { accept: true, context: 'ok' },
    );
    t.uas.handle(request('INVITE'), SRC);
    expect(t.statuses()).toEqual([407]);
    expect(getHeader(t.responses[0]!.headers, 'Proxy-Authenticate')).toBe('Digest realm="r"');
    expect(t.calls).toEqual([]);
    // the retry comes before the ACK of the 407 is seen: still one new call
    t.uas.handle(request('INVITE', { branch: 'z9hG4bK2', cseq: 2 }), SRC);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.statuses()).toEqual([407, 100, 180, 200]);
    expect(t.calls.map((c) => c.context)).toEqual(['ok']);
    expect(t.ended).toEqual([]); // a challenged attempt is no call
  });
});
