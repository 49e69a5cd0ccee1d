import { getHeader, getHeaders, type SipHeader } from './headers.js';
import { buildResponse, newBranch, randomToken } from './build.js';
import { parseCSeq, type SipRequest, type SipResponse } from './message.js';
import type { SipSource } from './transport.js';
import type { UasTransport } from './uas.js';
import { parseNameAddr } from './uri.js';
import { topVia, type Destination } from './via.js';

/**
 * The UAC side of RFC 3261 for the bridge's own new calls (the second leg of a B2BUA transfer):
 * an INVITE client transaction (UDP: retransmitted from T1, doubling, until a response; Timer B
 * at 64·T1), the ACK of a 2xx (re-sent for each retransmitted 2xx) or of a failure (hop by hop),
 * CANCEL when the far end rings past the caller's deadline, and the dialog that follows: a BYE
 * either way, each answered once.
 */

export interface OutgoingInvite {
  /** the Request-URI (the target) */
  uri: string;
  /** where the requests go: the trunk's outbound proxy, else the target's host */
  dest: Destination;
  /** the caller as the target sees it (a name-addr without tag) */
  from: string;
  sdp: string;
  headers?: SipHeader[];
  /** how long the target may ring before the attempt is cancelled */
  timeoutMs: number;
  /** aborted (the caller left): the attempt is cancelled */
  signal?: AbortSignal;
}

export type InviteResult = { ok: true; dialog: OutDialog; answer: string } | { ok: false; status: number };

/** A dialog the bridge started: its BYE, and the far end's. */
export interface OutDialog {
  readonly callId: string;
  /** sends BYE (retransmitted until answered; a 481 counts as done); the dialog ends at once */
  hangup(): void;
  /** the far end hung up (its BYE) or our BYE went out: called once */
  onEnded: ((why: 'bye' | 'local') => void) | undefined;
}

export interface UacOptions {
  contact: string;
  viaHost: string;
  viaPort: number;
  t1Ms?: number;
  userAgent?: string;
}

interface Pending {
  req: SipRequest;
  dest: Destination;
  retransmit: NodeJS.Timeout | undefined;
  timerB: NodeJS.Timeout;
  deadline: NodeJS.Timeout;
  provisional: boolean;
  cancelled: boolean;
  settle: (r: InviteResult) => void;
}

class Dialog implements OutDialog {
  onEnded: ((why: 'bye' | 'local') => void) | undefined;
  ended = false;
  seq: number;

  constructor(
    readonly callId: string,
    readonly invite: SipRequest,
    /** the 2xx's To (with the far end's tag) and Contact */
    readonly remoteTo: string,
    readonly remoteTarget: string,
    readonly dest: Destination,
    private readonly onHangup: (d: Dialog) => void,
  ) {
    this.seq = parseCSeq(getHeader(invite.headers, 'CSeq') ?? '')?.seq ?? 1;
  }

  hangup(): void {
    this.onHangup(this);
  }

  end(why: 'bye' | 'local'): void {
    if (this.ended) return;
    this.ended = true;
    const cb = this.onEnded;
    this.onEnded = undefined;
    cb?.(why);
  }
}

export class Uac {
  /** INVITEs awaiting their final response, by branch */
  private readonly pending = new Map<string, Pending>();
  /** ACKs already sent, by the INVITE's branch: a retransmitted final response gets the same one */
  private readonly acks = new Map<string, SipRequest>();
  private readonly ackDest = new Map<string, Destination>();
  private readonly dialogs = new Map<string, Dialog>();
  /** BYEs of ours awaiting an answer, by branch */
  private readonly byes = new Map<string, NodeJS.Timeout>();
  private readonly t1: number;

  constructor(
    private readonly transport: UasTransport,
    private readonly o: UacOptions,
  ) {
    this.t1 = o.t1Ms ?? 500;
  }

  get activeDialogs(): number {
    return this.dialogs.size;
  }

  invite(x: OutgoingInvite): Promise<InviteResult> {
    const branch = newBranch();
    const callId = `${randomToken(12)}@bridge`;
    const req: SipRequest = {
      kind: 'request',
      method: 'INVITE',
      uri: x.uri,
      headers: [
        this.via(x.dest, branch),
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: `${x.from};tag=${randomToken()}` },
        { name: 'To', value: `<${x.uri}>` },
        { name: 'Call-ID', value: callId },
        { name: 'CSeq', value: '1 INVITE' },
        { name: 'Contact', value: `<${this.o.contact}>` },
        ...(x.headers ?? []),
        ...(this.o.userAgent ? [{ name: 'User-Agent', value: this.o.userAgent }] : []),
        { name: 'Content-Type', value: 'application/sdp' },
      ],
      body: Buffer.from(x.sdp),
    };
    return new Promise<InviteResult>((resolve) => {
      let interval = this.t1;
      const again = () => {
        const p = this.pending.get(branch);
        if (!p || p.provisional) return;
        this.transport.send(req, x.dest);
        interval *= 2; // RFC 3261 §17.1.1.2: no T2 cap for INVITE, Timer B ends it
        p.retransmit = setTimeout(again, interval);
      };
      const p: Pending = {
        req,
        dest: x.dest,
        retransmit: x.dest.transport === 'udp' ? setTimeout(again, interval) : undefined,
        timerB: setTimeout(() => this.settle(branch, { ok: false, status: 408 }), 64 * this.t1),
        // ringing past the deadline: CANCEL; its 487 (or Timer B) settles the attempt
        deadline: setTimeout(() => this.cancel(branch), x.timeoutMs),
        provisional: false,
        cancelled: false,
        settle: resolve,
      };
      this.pending.set(branch, p);
      this.transport.send(req, x.dest);
      if (x.signal?.aborted) this.cancel(branch);
      x.signal?.addEventListener('abort', () => this.cancel(branch), { once: true });
    });
  }

  /** A response to one of our requests: true when it was ours. */
  handleResponse(res: SipResponse): boolean {
    const branch = topVia(res.headers)?.params.branch ?? '';
    const bye = this.byes.get(branch);
    if (bye !== undefined) {
      if (res.status >= 200) {
        clearTimeout(bye);
        this.byes.delete(branch);
      }
      return true;
    }
    const method = parseCSeq(getHeader(res.headers, 'CSeq') ?? '')?.method;
    const acked = this.acks.get(branch);
    if (acked) {
      if (res.status >= 200) this.transport.send(acked, this.ackDest.get(branch)!); // our ACK was lost
      return true;
    }
    const p = this.pending.get(branch);
    if (!p) return false;
    if (method === 'CANCEL') return true; // the CANCEL's own 200: the INVITE's 487 settles it
    if (res.status < 200) {
      p.provisional = true;
      clearTimeout(p.retransmit);
      if (p.cancelled) this.sendCancel(branch, p);
      return true;
    }
    if (res.status < 300) {
      const ack = this.ack2xx(p, res);
      this.remember(branch, ack.req, ack.dest);
      const to = getHeader(res.headers, 'To') ?? '';
      const contact = getHeaders(res.headers, 'Contact')[0];
      const target = (contact && parseNameAddr(contact)?.uri) || p.req.uri;
      const callId = getHeader(p.req.headers, 'Call-ID')!;
      if (p.cancelled) {
        // the 2xx crossed our CANCEL: the call is up, and we do not want it
        const d = new Dialog(callId, p.req, to, target, p.dest, (x) => this.bye(x));
        this.dialogs.set(callId, d);
        d.hangup();
        this.settle(branch, { ok: false, status: 408 });
        return true;
      }
      const d = new Dialog(callId, p.req, to, target, p.dest, (x) => this.bye(x));
      this.dialogs.set(callId, d);
      this.settle(branch, { ok: true, dialog: d, answer: res.body.toString('utf8') });
      return true;
    }
    // 3xx-6xx: ACK in the same transaction (§17.1.1.3)
    const ack = this.request('ACK', p.req.uri, this.sameTransaction(p, getHeader(res.headers, 'To') ?? '', 'ACK'));
    this.transport.send(ack, p.dest);
    this.remember(branch, ack, p.dest);
    this.settle(branch, { ok: false, status: p.cancelled && res.status === 487 ? 408 : res.status });
    return true;
  }

  /** A request in one of our dialogs (the far end's BYE): true when it was ours. */
  handleRequest(req: SipRequest, source: SipSource): boolean {
    const d = this.dialogs.get(getHeader(req.headers, 'Call-ID') ?? '');
    // only from where the dialog's requests go (the target, or the trunk's proxy): a Call-ID alone is no proof
    if (!d || source.address !== d.dest.address) return false;
    if (req.method === 'ACK') return true;
    const status = req.method === 'BYE' ? 200 : req.method === 'INVITE' ? 488 : 200;
    const res = buildResponse(req, status, status === 200 ? 'OK' : 'Not Acceptable Here');
    this.transport.sendResponse(res, source);
    if (req.method === 'BYE') {
      this.dialogs.delete(d.callId);
      d.end('bye');
    }
    return true;
  }

  /** Shutdown: every pending INVITE cancelled, every dialog BYEd. */
  closeAll(): void {
    for (const branch of [...this.pending.keys()]) this.cancel(branch);
    for (const d of [...this.dialogs.values()]) d.hangup();
  }

  /** A request of the INVITE's transaction or dialog: its Via (given), From, To, Call-ID and this CSeq. */
  private request(
    method: string,
    uri: string,
    x: { via: string; from: string; to: string; callId: string; cseq: string; extra?: SipHeader[] },
  ): SipRequest {
    return {
      kind: 'request',
      method,
      uri,
      headers: [
        { name: 'Via', value: x.via },
        { name: 'Max-Forwards', value: '70' },
        { name: 'From', value: x.from },
        { name: 'To', value: x.to },
        { name: 'Call-ID', value: x.callId },
        { name: 'CSeq', value: x.cseq },
        ...(x.extra ?? []),
      ],
      body: Buffer.alloc(0),
    };
  }

  /** The fields a request in the INVITE's own transaction (ACK of a failure, CANCEL) copies from it. */
  private sameTransaction(p: Pending, to: string, method: string) {
    return {
      via: getHeaders(p.req.headers, 'Via')[0]!,
      from: getHeader(p.req.headers, 'From')!,
      to,
      callId: getHeader(p.req.headers, 'Call-ID')!,
      cseq: `1 ${method}`,
    };
  }

  private via(dest: Destination, branch: string): SipHeader {
    return {
      name: 'Via',
      value: `SIP/2.0/${dest.transport.toUpperCase()} ${this.o.viaHost}:${this.o.viaPort};branch=${branch};rport`,
    };
  }

  private settle(branch: string, r: InviteResult): void {
    const p = this.pending.get(branch);
    if (!p) return;
    this.pending.delete(branch);
    clearTimeout(p.retransmit);
    clearTimeout(p.timerB);
    clearTimeout(p.deadline);
    p.settle(r);
  }

  private remember(branch: string, ack: SipRequest, dest: Destination): void {
    this.acks.set(branch, ack);
    this.ackDest.set(branch, dest);
    setTimeout(() => {
      this.acks.delete(branch);
      this.ackDest.delete(branch);
    }, 64 * this.t1).unref();
  }

  private cancel(branch: string): void {
    const p = this.pending.get(branch);
    if (!p || p.cancelled) return;
    p.cancelled = true;
    // §9.1: a CANCEL only after a provisional response; before one, it waits for it (or Timer B)
    if (p.provisional) this.sendCancel(branch, p);
  }

  private sendCancel(_branch: string, p: Pending): void {
    const cancel = this.request(
      'CANCEL',
      p.req.uri,
      this.sameTransaction(p, getHeader(p.req.headers, 'To')!, 'CANCEL'),
    );
    this.transport.send(cancel, p.dest);
  }

  /** The ACK of a 2xx: a new transaction to the far end's Contact, same CSeq number (§13.2.2.4). */
  private ack2xx(p: Pending, res: SipResponse): { req: SipRequest; dest: Destination } {
    const contact = getHeaders(res.headers, 'Contact')[0];
    const target = (contact && parseNameAddr(contact)?.uri) || p.req.uri;
    const req = this.request('ACK', target, {
      ...this.sameTransaction(p, getHeader(res.headers, 'To') ?? '', 'ACK'),
      via: this.via(p.dest, newBranch()).value,
    });
    this.transport.send(req, p.dest);
    return { req, dest: p.dest };
  }

  private bye(d: Dialog): void {
    if (d.ended) return;
    this.dialogs.delete(d.callId);
    const branch = newBranch();
    const req = this.request('BYE', d.remoteTarget, {
      via: this.via(d.dest, branch).value,
      from: getHeader(d.invite.headers, 'From')!,
      to: d.remoteTo,
      callId: d.callId,
      cseq: `${++d.seq} BYE`,
      extra: this.o.userAgent ? [{ name: 'User-Agent', value: this.o.userAgent }] : [],
    });
    this.transport.send(req, d.dest);
    let interval = this.t1;
    let elapsed = 0;
    const again = () => {
      elapsed += interval;
      if (elapsed >= 64 * this.t1) return void this.byes.delete(branch);
      if (d.dest.transport === 'udp') this.transport.send(req, d.dest);
      interval = Math.min(interval * 2, 4000);
      this.byes.set(branch, setTimeout(again, interval));
    };
    this.byes.set(branch, setTimeout(again, interval));
    d.end('local');
  }
}
