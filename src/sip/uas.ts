import { getHeader, getHeaders, type SipHeader } from './headers.js';
import { buildResponse, newBranch, randomToken, withTag } from './build.js';
import { parseCSeq, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import type { SipSource } from './transport.js';
import { parseNameAddr } from './uri.js';
import { topVia, type Destination } from './via.js';
import { negotiateTimer, timerDueMs, type SessionTimer } from './session-timer.js';

/**
 * The UAS side of RFC 3261 for inbound calls: INVITE server transactions and the dialogs they
 * create. 100 Trying at once, 180 Ringing, then the application's answer: a 200 with SDP,
 * retransmitted (UDP) from T1 doubling to T2 until the ACK, a BYE when no ACK comes within 64·T1;
 * or a failure, retransmitted until its ACK. CANCEL before the final response: 200 to the CANCEL,
 * 487 to the INVITE, the application's signal aborted. Retransmitted requests are absorbed by
 * resending the response already given. In-dialog requests go back to where the INVITE came from
 * (the trunk's edge, which a NATed or balanced peer can receive on).
 */

export interface UasTransport {
  sendResponse(res: SipResponse, to: SipSource): void;
  send(msg: SipMessage, dest: Destination): void;
}

export type InviteOutcome = { answer: string } | { status: number; reason?: string; headers?: SipHeader[] };
export type EndReason = 'bye' | 'cancel' | 'no_ack' | 'local' | 'failed' | 'session_expired';

export interface IncomingCall {
  readonly callId: string;
  readonly invite: SipRequest;
  readonly source: SipSource;
  /** aborted when the caller cancels before the answer, or the call ends */
  readonly signal: AbortSignal;
  /** what the screening attached (the trunk, the dialled number) */
  readonly context: unknown;
  /** ends the call: BYE once answered (retransmitted until answered; 481 counts as done) */
  hangup(): void;
  /**
   * Sends an in-dialog request (REFER) once the call is answered; `onFinal` gets its final
   * response, or undefined when none came within 64·T1. False when the dialog is not up.
   */
  request(method: string, headers: SipHeader[], onFinal: (res: SipResponse | undefined) => void): boolean;
}

/** What the screening of a new INVITE decided, before anything is sent. */
export type ScreenVerdict =
  { drop: true } | { reject: number; headers?: SipHeader[] } | { accept: true; context?: unknown };

export interface UasHandlers {
  /** admission, digest and routing checks of a new INVITE; absent: every INVITE is taken */
  screen?(req: SipRequest, source: SipSource): ScreenVerdict;
  onInvite(call: IncomingCall): Promise<InviteOutcome>;
  onConfirmed?(call: IncomingCall): void;
  onEnded?(call: IncomingCall, why: EndReason): void;
  /** in-dialog INFO (DTMF relay): answered 200 */
  onInfo?(call: IncomingCall, req: SipRequest): void;
  /** in-dialog NOTIFY (a REFER's progress): answered 200 */
  onNotify?(call: IncomingCall, req: SipRequest): void;
  /** 200, or 503 while draining */
  optionsStatus?(): number;
  /** an in-dialog INVITE (hold, resume, a session refresh): the SDP answer, or a failure status */
  onReinvite?(call: IncomingCall, req: SipRequest): { answer: string } | { status: number };
}

export interface UasOptions {
  /** the Contact URI of the bridge, with SIP_PUBLIC_ADDRESS */
  contact: string;
  /** sent-by of requests the bridge sends */
  viaHost: string;
  viaPort: number;
  t1Ms?: number;
  t2Ms?: number;
  userAgent?: string;
  /** our Min-SE (RFC 4028), read at each request: a reload may change it; default 90 s */
  minSessionExpiresS?: () => number;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY';
const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  422: 'Session Interval Too Small',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};
const reasonOf = (status: number) => STATUS_TEXT[status] ?? 'Unknown';

type CallState = 'proceeding' | 'answered' | 'confirmed' | 'failed' | 'ended';

class Call implements IncomingCall {
  state: CallState = 'proceeding';
  readonly toTag = randomToken();
  readonly controller = new AbortController();
  last: SipResponse | undefined;
  retransmit: NodeJS.Timeout | undefined;
  timerH: NodeJS.Timeout | undefined;
  localSeq = 0;
  context: unknown = undefined;
  /** handed to onInvite: only such calls are reported ended (a challenged attempt is no call) */
  offered = false;
  /** the RFC 4028 session timer agreed, its 2xx headers, and its running timeout */
  session: { timer: SessionTimer | undefined; headers: SipHeader[]; due?: NodeJS.Timeout } = {
    timer: undefined,
    headers: [],
  };
  /** our last SDP answer: a refresh the bridge sends offers it again */
  answer = '';

  constructor(
    readonly callId: string,
    readonly invite: SipRequest,
    readonly source: SipSource,
    readonly branch: string,
    private readonly onHangup: (c: Call) => void,
    private readonly onRequest: (
      c: Call,
      method: string,
      headers: SipHeader[],
      onFinal: (res: SipResponse | undefined) => void,
    ) => boolean,
  ) {}

  request(method: string, headers: SipHeader[], onFinal: (res: SipResponse | undefined) => void): boolean {
    return this.onRequest(this, method, headers, onFinal);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  hangup(): void {
    this.onHangup(this);
  }

  clearTimers(): void {
    clearTimeout(this.retransmit);
    clearTimeout(this.timerH);
    this.retransmit = undefined;
    this.timerH = undefined;
  }
}

export class Uas {
  private readonly calls = new Map<string, Call>();
  private readonly byBranch = new Map<string, Call>();
  /** final responses of non-INVITE transactions, for retransmissions (kept 64·T1) */
  private readonly answered = new Map<string, SipResponse>();
  /** ACKs of 2xx answers to our refreshing re-INVITEs, by its branch: a retransmitted 2xx gets it again */
  private readonly acks = new Map<string, { req: SipRequest; dest: Destination }>();
  /** our requests (BYE, REFER) awaiting a final response, by branch */
  private readonly clientTx = new Map<
    string,
    { timer: NodeJS.Timeout; onFinal?: (res: SipResponse | undefined) => void }
  >();
  private readonly t1: number;
  private readonly t2: number;

  constructor(
    private readonly transport: UasTransport,
    private readonly handlers: UasHandlers,
    private readonly o: UasOptions,
  ) {
    this.t1 = o.t1Ms ?? 500;
    this.t2 = o.t2Ms ?? 4000;
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  handle(msg: SipMessage, source: SipSource): void {
    if (msg.kind === 'response') return this.onResponse(msg);
    const branch = topVia(msg.headers)?.params.branch ?? '';
    if (msg.method !== 'INVITE' && msg.method !== 'ACK') {
      const done = this.answered.get(`${branch}|${msg.method}`);
      if (done) return this.transport.sendResponse(done, source); // a retransmission
    }
    switch (msg.method) {
      case 'INVITE':
        return this.onInvite(msg, source, branch);
      case 'ACK':
        return this.onAck(msg);
      case 'CANCEL':
        return this.onCancel(msg, source, branch);
      case 'BYE':
        return this.onBye(msg, source, branch);
      case 'OPTIONS': {
        const status = this.handlers.optionsStatus?.() ?? 200;
        return this.reply(msg, source, branch, status, [
          { name: 'Allow', value: ALLOW },
          { name: 'Accept', value: 'application/sdp' },
        ]);
      }
      case 'INFO': {
        const call = this.dialogOf(msg);
        if (!call) return this.reply(msg, source, branch, 481);
        this.handlers.onInfo?.(call, msg);
        return this.reply(msg, source, branch, 200);
      }
      case 'NOTIFY': {
        const call = this.dialogOf(msg);
        if (!call) return this.reply(msg, source, branch, 481);
        this.reply(msg, source, branch, 200);
        this.handlers.onNotify?.(call, msg);
        return;
      }
      default:
        return this.reply(msg, source, branch, 405, [{ name: 'Allow', value: ALLOW }]);
    }
  }

  /** Ends every call (shutdown): BYE for the answered ones, 480 for the ringing ones. */
  closeAll(): void {
    for (const c of [...this.calls.values()]) {
      if (c.state === 'proceeding') this.finalFailure(c, 480);
      else c.hangup();
    }
  }

  private onInvite(req: SipRequest, source: SipSource, branch: string): void {
    const existing = this.byBranch.get(branch);
    if (existing) {
      // a retransmitted INVITE: resend what was last said, never start a second call
      this.transport.sendResponse(existing.last ?? buildResponse(req, 100, 'Trying'), existing.source);
      return;
    }
    const callId = getHeader(req.headers, 'Call-ID')!;
    const toTag = parseNameAddr(getHeader(req.headers, 'To') ?? '')?.params.tag;
    if (toTag !== undefined) return this.onReinvite(req, source, branch);
    const previous = this.calls.get(callId);
    if (previous && previous.state !== 'failed') {
      this.reply(req, source, branch, 482); // a second INVITE on a Call-ID in use
      return;
    }
    // the one after a 407 reuses the Call-ID: the challenged attempt is over, ACKed or not
    if (previous) this.forget(previous);
    const verdict = this.handlers.screen?.(req, source) ?? { accept: true };
    if ('drop' in verdict) return; // no answer at all: no state, nothing a scanner can learn
    const timer = 'accept' in verdict ? negotiateTimer(req, this.minSe()) : { timer: undefined };
    const call = new Call(
      callId,
      req,
      source,
      branch,
      (c) => this.localHangup(c),
      (c, method, headers, onFinal) => this.inDialog(c, method, headers, onFinal),
    );
    this.calls.set(callId, call);
    this.byBranch.set(branch, call);
    if ('reject' in verdict) {
      this.finalFailure(call, verdict.reject, undefined, verdict.headers);
      return;
    }
    if ('tooSmall' in timer) {
      this.finalFailure(call, 422, undefined, timer.tooSmall);
      return;
    }
    call.session = { timer: timer.timer, headers: timer.timer ? timer.headers : [] };
    call.context = verdict.context;
    this.transport.sendResponse(buildResponse(req, 100, 'Trying'), source);
    this.send(call, buildResponse(req, 180, 'Ringing', { toTag: call.toTag, headers: this.contactHeaders() }));
    call.offered = true;
    this.handlers.onInvite(call).then(
      (outcome) => this.onOutcome(call, outcome),
      () => this.onOutcome(call, { status: 500 }),
    );
  }

  /**
   * A re-INVITE in a confirmed dialog, answered at once: 200 with the application's SDP (its
   * retransmissions, same branch, get the same 200 again), or its failure. Not in a dialog: 481.
   */
  private onReinvite(req: SipRequest, source: SipSource, branch: string): void {
    const done = this.answered.get(`${branch}|INVITE`);
    if (done) return this.transport.sendResponse(done, source); // a retransmission
    const call = this.dialogOf(req);
    if (!call || (call.state !== 'confirmed' && call.state !== 'answered') || !this.handlers.onReinvite) {
      return this.reply(req, source, branch, call ? 488 : 481);
    }
    const timer = negotiateTimer(req, this.minSe());
    if ('tooSmall' in timer) return this.reply(req, source, branch, 422, timer.tooSmall);
    const out = this.handlers.onReinvite(call, req);
    if ('status' in out) return this.reply(req, source, branch, out.status);
    // a refresh without Session-Expires turns the timer off (RFC 4028 §9); with it, it restarts
    this.startSessionTimer(call, timer.timer, timer.timer ? timer.headers : [], out.answer);
    const res = buildResponse(req, 200, 'OK', {
      toTag: call.toTag,
      headers: [...this.contactHeaders(), { name: 'Allow', value: ALLOW }, ...call.session.headers],
      body: Buffer.from(out.answer),
    });
    const key = `${branch}|INVITE`;
    this.answered.set(key, res);
    setTimeout(() => this.answered.delete(key), 64 * this.t1).unref();
    this.transport.sendResponse(res, source);
  }

  private onOutcome(call: Call, outcome: InviteOutcome): void {
    if (call.state !== 'proceeding') return; // cancelled meanwhile: the 487 has been sent
    if ('answer' in outcome) {
      call.state = 'answered';
      const res = buildResponse(call.invite, 200, 'OK', {
        toTag: call.toTag,
        headers: [...this.contactHeaders(), { name: 'Allow', value: ALLOW }, ...call.session.headers],
        body: Buffer.from(outcome.answer),
      });
      this.startSessionTimer(call, call.session.timer, call.session.headers, outcome.answer);
      this.sendFinal(call, res, () => {
        // no ACK within 64·T1 (§13.3.1.4): the dialog is confirmed and then ended at once
        call.state = 'confirmed';
        this.sendBye(call);
        this.end(call, 'no_ack');
      });
    } else {
      this.finalFailure(call, outcome.status, outcome.reason, outcome.headers);
    }
  }

  private finalFailure(call: Call, status: number, reason?: string, headers?: SipHeader[]): void {
    call.state = 'failed';
    const res = buildResponse(call.invite, status, reason ?? reasonOf(status), {
      toTag: call.toTag,
      ...(headers ? { headers } : {}),
    });
    this.sendFinal(call, res, () => this.forget(call));
    this.end(call, status === 487 ? 'cancel' : 'failed', false);
  }

  /** Sends a final response, retransmitted over UDP until the ACK; `onTimeout` after 64·T1. */
  private sendFinal(call: Call, res: SipResponse, onTimeout: () => void): void {
    this.send(call, res);
    if (call.source.transport === 'udp') {
      let interval = this.t1;
      const again = () => {
        this.transport.sendResponse(res, call.source);
        interval = Math.min(interval * 2, this.t2);
        call.retransmit = setTimeout(again, interval);
      };
      call.retransmit = setTimeout(again, interval);
    }
    call.timerH = setTimeout(() => {
      call.clearTimers();
      onTimeout();
    }, 64 * this.t1);
  }

  private onAck(req: SipRequest): void {
    const call = this.calls.get(getHeader(req.headers, 'Call-ID') ?? '') ?? this.failedByBranch(req);
    if (!call) return; // an ACK for nothing is dropped, never answered
    if (call.state === 'answered') {
      call.clearTimers();
      call.state = 'confirmed';
      this.handlers.onConfirmed?.(call);
    } else if (call.state === 'failed') {
      call.clearTimers();
      this.forget(call);
    }
  }

  private failedByBranch(req: SipRequest): Call | undefined {
    return this.byBranch.get(topVia(req.headers)?.params.branch ?? '');
  }

  private onCancel(req: SipRequest, source: SipSource, branch: string): void {
    const call = this.byBranch.get(branch);
    if (!call) return this.reply(req, source, branch, 481);
    this.reply(req, source, branch, 200);
    if (call.state === 'proceeding') this.finalFailure(call, 487);
  }

  private onBye(req: SipRequest, source: SipSource, branch: string): void {
    const call = this.dialogOf(req);
    if (!call || call.state === 'failed' || call.state === 'ended') return this.reply(req, source, branch, 481);
    this.reply(req, source, branch, 200);
    call.clearTimers();
    this.end(call, 'bye');
  }

  private onResponse(res: SipResponse): void {
    const branch = topVia(res.headers)?.params.branch ?? '';
    const ack = this.acks.get(branch);
    if (ack && res.status >= 200 && res.status < 300) return this.transport.send(ack.req, ack.dest); // our ACK was lost
    const tx = this.clientTx.get(branch);
    if (tx === undefined || res.status < 200) return;
    // any final response ends our request (for a BYE, a 481: the dialog was already gone)
    clearTimeout(tx.timer);
    this.clientTx.delete(branch);
    tx.onFinal?.(res);
  }

  /** The dialog a request belongs to: its Call-ID, and our tag in its To. */
  private dialogOf(req: SipRequest): Call | undefined {
    const call = this.calls.get(getHeader(req.headers, 'Call-ID') ?? '');
    const tag = parseNameAddr(getHeader(req.headers, 'To') ?? '')?.params.tag;
    return call && tag === call.toTag ? call : undefined;
  }

  private localHangup(call: Call): void {
    if (call.state === 'proceeding') return this.finalFailure(call, 480);
    if (call.state !== 'answered' && call.state !== 'confirmed') return;
    call.clearTimers();
    this.sendBye(call);
    this.end(call, 'local');
  }

  private sendBye(call: Call): void {
    this.sendInDialog(call, 'BYE', []);
  }

  private inDialog(
    call: Call,
    method: string,
    headers: SipHeader[],
    onFinal: (res: SipResponse | undefined) => void,
  ): boolean {
    if (call.state !== 'answered' && call.state !== 'confirmed') return false;
    this.sendInDialog(call, method, headers, onFinal);
    return true;
  }

  /** A request of ours in the dialog, retransmitted over UDP until a final response (64·T1). */
  private sendInDialog(
    call: Call,
    method: string,
    extra: SipHeader[],
    onFinal?: (res: SipResponse | undefined) => void,
    body: Buffer = Buffer.alloc(0),
  ): { seq: number; branch: string } {
    const inv = call.invite;
    const remoteContact = getHeaders(inv.headers, 'Contact')[0];
    const target =
      (remoteContact && parseNameAddr(remoteContact)?.uri) || parseNameAddr(getHeader(inv.headers, 'From') ?? '')?.uri;
    const branch = newBranch();
    const seq = (parseCSeq(getHeader(inv.headers, 'CSeq') ?? '')?.seq ?? 0) + 1 + call.localSeq++;
    const headers: SipHeader[] = [
      ...this.dialogHeaders(call, branch, `${seq} ${method}`),
      ...(method === 'BYE' ? [] : this.contactHeaders()),
      ...extra,
      ...(this.o.userAgent ? [{ name: 'User-Agent', value: this.o.userAgent }] : []),
    ];
    const req: SipRequest = {
      kind: 'request',
      method,
      uri: target ?? `sip:${call.source.address}`,
      headers,
      body,
    };
    const dest = { transport: call.source.transport, address: call.source.address, port: call.source.port };
    this.transport.send(req, dest);
    let interval = this.t1;
    let elapsed = 0;
    const again = () => {
      elapsed += interval;
      if (elapsed >= 64 * this.t1) {
        this.clientTx.delete(branch);
        onFinal?.(undefined);
        return;
      }
      if (call.source.transport === 'udp') this.transport.send(req, dest);
      interval = Math.min(interval * 2, this.t2);
      this.clientTx.set(branch, { timer: setTimeout(again, interval), ...(onFinal ? { onFinal } : {}) });
    };
    this.clientTx.set(branch, { timer: setTimeout(again, interval), ...(onFinal ? { onFinal } : {}) });
    return { seq, branch };
  }

  /** The headers every request of ours in the dialog starts with: Via, Max-Forwards, Route, From, To, Call-ID, CSeq. */
  private dialogHeaders(call: Call, branch: string, cseq: string): SipHeader[] {
    const inv = call.invite;
    const transport = call.source.transport.toUpperCase();
    return [
      { name: 'Via', value: `SIP/2.0/${transport} ${this.o.viaHost}:${this.o.viaPort};branch=${branch};rport` },
      { name: 'Max-Forwards', value: '70' },
      ...getHeaders(inv.headers, 'Record-Route').map((r) => ({ name: 'Route', value: r })),
      { name: 'From', value: withTag(getHeader(inv.headers, 'To') ?? '', call.toTag) },
      { name: 'To', value: getHeader(inv.headers, 'From') ?? '' },
      { name: 'Call-ID', value: call.callId },
      { name: 'CSeq', value: cseq },
    ];
  }

  private minSe(): number {
    return this.o.minSessionExpiresS?.() ?? 90;
  }

  /** (Re)starts the session timer on an answer or a refresh; `timer` undefined stops it. */
  private startSessionTimer(call: Call, timer: SessionTimer | undefined, headers: SipHeader[], answer: string): void {
    clearTimeout(call.session.due);
    call.session = { timer, headers };
    call.answer = answer;
    if (!timer) return;
    call.session.due = setTimeout(
      () => (timer.refresher === 'uas' ? this.refreshSession(call, timer) : this.expireSession(call)),
      timerDueMs(timer),
    );
    call.session.due.unref();
  }

  /** The refresher did not refresh in time (§10): BYE, and the call ends once. */
  private expireSession(call: Call): void {
    if (call.state !== 'answered' && call.state !== 'confirmed') return;
    this.sendBye(call);
    this.end(call, 'session_expired');
  }

  /** We are the refresher: a re-INVITE with our last answer; its 2xx restarts the timer, anything else ends the call. */
  private refreshSession(call: Call, timer: SessionTimer): void {
    if (call.state !== 'confirmed') return this.expireSession(call);
    const headers: SipHeader[] = [
      { name: 'Session-Expires', value: `${timer.seconds};refresher=uas` },
      { name: 'Supported', value: 'timer' },
      { name: 'Content-Type', value: 'application/sdp' },
    ];
    const sent = this.sendInDialog(
      call,
      'INVITE',
      headers,
      (res) => {
        if (call.state !== 'confirmed') return;
        if (!res || res.status >= 300) return this.expireSession(call);
        this.ackRefresh(call, sent, res);
        this.startSessionTimer(call, timer, call.session.headers, call.answer);
      },
      Buffer.from(call.answer),
    );
  }

  /** The ACK of a 2xx to our re-INVITE: its own transaction, same CSeq number (RFC 3261 §13.2.2.4). */
  private ackRefresh(call: Call, sent: { seq: number; branch: string }, res: SipResponse): void {
    const inv = call.invite;
    const remoteContact = getHeaders(res.headers, 'Contact')[0] ?? getHeaders(inv.headers, 'Contact')[0];
    const target = (remoteContact && parseNameAddr(remoteContact)?.uri) || `sip:${call.source.address}`;
    const req: SipRequest = {
      kind: 'request',
      method: 'ACK',
      uri: target,
      headers: this.dialogHeaders(call, newBranch(), `${sent.seq} ACK`),
      body: Buffer.alloc(0),
    };
    const dest = { transport: call.source.transport, address: call.source.address, port: call.source.port };
    this.transport.send(req, dest);
    this.acks.set(sent.branch, { req, dest });
    setTimeout(() => this.acks.delete(sent.branch), 64 * this.t1).unref();
  }

  private end(call: Call, why: EndReason, forget = true): void {
    if (call.state !== 'failed') call.state = 'ended';
    clearTimeout(call.session.due);
    call.controller.abort();
    if (forget) this.forget(call);
    if (call.offered) this.handlers.onEnded?.(call, why);
  }

  private forget(call: Call): void {
    call.clearTimers();
    clearTimeout(call.session.due);
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId);
    // the branch is kept a little longer: a late INVITE retransmission must not start a new call
    setTimeout(() => {
      if (this.byBranch.get(call.branch) === call) this.byBranch.delete(call.branch);
    }, 64 * this.t1).unref();
  }

  private send(call: Call, res: SipResponse): void {
    call.last = res;
    this.transport.sendResponse(res, call.source);
  }

  private reply(req: SipRequest, source: SipSource, branch: string, status: number, headers: SipHeader[] = []): void {
    const res = buildResponse(req, status, reasonOf(status), { toTag: randomToken(), headers });
    const key = `${branch}|${req.method}`;
    this.answered.set(key, res);
    setTimeout(() => this.answered.delete(key), 64 * this.t1).unref();
    this.transport.sendResponse(res, source);
  }

  private contactHeaders(): SipHeader[] {
    return [{ name: 'Contact', value: `<${this.o.contact}>` }];
  }
}
