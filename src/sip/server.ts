import { randomBytes, randomInt } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { PaceClock } from '../call/pace-clock.js';
import type { SipEnv } from '../config/sip-env.js';
import type { SipConfig, SipTrunkConfig } from '../config/sip-schema.js';
import type { AgentConfig, IvrConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { maskNumber } from '../observability/redact.js';
import { bindRtpSocket, PortPool } from '../rtp/port-pool.js';
import { TrunkSelector } from './admission.js';
import { DEFAULT_INVITE_LIMIT, InviteLimiter } from './invite-limiter.js';
import { SipLeg, SipRtpMedia, type SipDialogControl } from './call-leg.js';
import { runIvrCall, type IvrCall } from './ivr-call.js';
import type { SipCallSession, SipHost } from './host.js';
import { waitReady } from './wait-ready.js';
import type { DropSink } from './drops.js';
import { parseDtmfInfo } from './dtmf-info.js';
import { normaliseE164 } from './e164.js';
import { header, type SipMessage, type SipRequest } from './message.js';
import { screenInvite } from './screen.js';
import { answerOffer } from './sdp.js';
import { SipTransport, type SipSource } from './transport.js';
import { B2bua, type CallerSide } from './b2bua.js';
import { Uac } from './uac.js';
import { Uas, type EndReason, type IncomingCall, type InviteOutcome, type ScreenVerdict } from './uas.js';
import { parseNameAddr, parseSipUri } from './uri.js';

/**
 * The SIP way in: UDP and TCP on SIP_PORT, each INVITE screened (source, scanner,
 * digest, dialled number, capacity), the engine session opened while it rings, answered 200 with
 * SDP once the agent is ready (within `sip.answer_wait_ms`, else 480), its RTP attached to the
 * session as the call's media. The call core sees only the leg (call-leg.ts).
 */

export type { SipCallSession, SipHost } from './host.js';

export interface SipServerOptions {
  env: SipEnv;
  host: SipHost;
  clock: PaceClock;
  logger: Logger;
  onDrop: DropSink;
  /** the digest nonce key (src/sip/nonce-secret.ts) */
  nonceSecret: Buffer;
  /** process.env: where `digest.password_env` is read */
  secrets?: NodeJS.ProcessEnv;
  t1Ms?: number;
}

interface Routed {
  trunk: SipTrunkConfig;
  number: string;
  /** the number's agent, or (an IVR number) none until the caller chooses */
  agent?: AgentConfig;
  ivr?: IvrConfig;
}

interface LiveCall {
  call: IncomingCall;
  dialog: SipDialogControl;
  /** our SDP: o= session id and version, and the last answer (a refresh gets it unchanged) */
  sdp: { sessionId: string; version: number; last: string };
  session: SipCallSession;
  media: SipRtpMedia;
}

/** One ended call's RTP, as the bridge saw it: for the demo's summary and for operators' logs. */
export interface SipMediaReport {
  callId: string;
  packetsIn: number;
  packetsOut: number;
  /** where the caller's RTP came from (the latched source, where ours went); undefined: none came */
  latched: { address: string; port: number } | undefined;
}

const RETRY_AFTER_S = '5';
const REALM = 'omni-phone-bridge';

export class SipServer {
  private readonly live = new Map<string, LiveCall>();
  /** each call's dialog control, from the ringing on (a NOTIFY finds its REFER's listener here) */
  private readonly dialogs = new Map<string, SipDialogControl>();
  /** IVR calls whose menu is running (no session yet), by Call-ID: their media */
  private readonly ivrCalls = new Map<string, SipRtpMedia>();
  private contact = '';
  private readonly pool: PortPool;
  private readonly mediaWatch: NodeJS.Timeout;
  private selector: { sip: SipConfig | undefined; selector: TrunkSelector<SipTrunkConfig> } | undefined;
  private readonly warnedPasswords = new Set<string>();
  private readonly inviteLimiter = new InviteLimiter();
  private uas!: Uas;
  /** the bridge's own calls (a B2BUA transfer's second leg) and the joined pairs */
  private uac!: Uac;
  private b2bua!: B2bua;
  private closed = false;
  /** told of each answered call's RTP when its dialog ends */
  onMediaReport: ((r: SipMediaReport) => void) | undefined;

  private constructor(
    private readonly o: SipServerOptions,
    private readonly transport: SipTransport,
  ) {
    this.pool = new PortPool(o.env.rtpPortMin, o.env.rtpPortMax);
    // read each time: a reload may change sip.media_timeout_s
    this.mediaWatch = setInterval(() => this.checkMedia((o.host.file().sip?.media_timeout_s ?? 30) * 1000), 250);
    this.mediaWatch.unref();
  }

  static async start(o: SipServerOptions): Promise<SipServer> {
    // eslint-disable-next-line prefer-const
    let server: SipServer | undefined;
    const transport = await SipTransport.listen({
      host: o.env.host,
      port: o.env.port,
      onDrop: o.onDrop,
      onMessage: (m, s) => server?.receive(m, s),
    });
    server = new SipServer(o, transport);
    const addr = addrOf(o.env.publicAddress);
    server.contact = `sip:bridge@${addr}:${transport.port}`;
    server.uas = new Uas(
      transport,
      {
        screen: (req, src) => server.screen(req, src),
        onInvite: (call) => server.onInvite(call),
        onEnded: (call, why) => server.onEnded(call, why),
        onInfo: (call, req) => server.onInfo(call, req),
        onNotify: (call, req) => server.onNotify(call, req),
        onReinvite: (call, req) => server.onReinvite(call, req),
        optionsStatus: () => (o.host.draining || server.closed ? 503 : 200),
      },
      {
        contact: server.contact,
        viaHost: addr,
        viaPort: transport.port,
        userAgent: 'omni-phone-bridge',
        minSessionExpiresS: () => o.host.file().sip?.min_session_expires_s ?? 90,
        ...(o.t1Ms ? { t1Ms: o.t1Ms } : {}),
      },
    );
    server.uac = new Uac(transport, {
      contact: server.contact,
      viaHost: addr,
      viaPort: transport.port,
      userAgent: 'omni-phone-bridge',
      ...(o.t1Ms ? { t1Ms: o.t1Ms } : {}),
    });
    server.b2bua = new B2bua({
      uac: server.uac,
      clock: o.clock,
      pool: server.pool,
      bindHost: o.env.host,
      publicAddress: o.env.publicAddress,
      logger: o.logger,
    });
    o.logger.info(
      { host: o.env.host, port: transport.port, publicAddress: o.env.publicAddress },
      'SIP listening (UDP and TCP)',
    );
    return server;
  }

  /** The bound port (SIP_PORT=0 picks one). */
  get port(): number {
    return this.transport.port;
  }

  get activeCalls(): number {
    return this.live.size;
  }

  /** INVITE transactions and dialogs held now: answered calls, ringing ones, failures awaiting their ACK */
  get transactions(): number {
    return this.uas.activeCalls;
  }

  /** RTP ports not held by a call (each call's port is given back however it ended) */
  get rtpPortsFree(): number {
    return this.pool.available;
  }

  /** Ends every call (BYE for the answered, 480 for the ringing) and stops listening. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.mediaWatch);
    this.b2bua.closeAll();
    this.uac.closeAll();
    this.uas.closeAll();
    for (const l of this.live.values()) l.media.close();
    // the BYEs just queued leave before the socket closes
    await new Promise((r) => setTimeout(r, 50));
    await this.transport.close();
  }

  /**
   * Every message from a source outside every trunk's `allow`, and every request of a scanner's
   * user agent, is dropped before the UAS sees it (counted): OPTIONS and strays included, the
   * port looks closed to them.
   */
  private receive(msg: SipMessage, src: SipSource): void {
    // our own transactions and dialogs first: a response by its branch, a request by its dialog and source
    if (msg.kind === 'response' ? this.uac.handleResponse(msg) : this.uac.handleRequest(msg, src)) return;
    if (msg.kind === 'request') {
      if (!this.trunks().admit(msg, src.address).admitted) return;
    } else if (msg.kind === 'response' && !this.trunks().trunkFor(src.address)) {
      this.o.onDrop('no_trunk');
      return;
    }
    this.uas.handle(msg, src);
  }

  private trunks(): TrunkSelector<SipTrunkConfig> {
    const sip = this.o.host.file().sip;
    if (this.selector === undefined || this.selector.sip !== sip) {
      this.selector = { sip, selector: new TrunkSelector(sip?.trunks ?? [], this.o.onDrop) };
    }
    return this.selector.selector;
  }

  private screen(req: SipRequest, src: SipSource): ScreenVerdict {
    const host = this.o.host;
    // before the digest and routing work: a flood from an allowed source costs a map lookup each
    const limit = host.file().sip?.invite_limit ?? DEFAULT_INVITE_LIMIT;
    if (!this.inviteLimiter.take(src.address, limit)) {
      this.o.onDrop('rate_limited');
      return { drop: true };
    }
    const verdict = screenInvite(req, src.address, {
      selector: this.trunks(),
      digestFor: (trunk) => {
        if (!trunk.digest) return undefined;
        const password = (this.o.secrets ?? process.env)[trunk.digest.password_env];
        if (!password && !this.warnedPasswords.has(trunk.name)) {
          this.warnedPasswords.add(trunk.name);
          this.o.logger.error(
            { trunk: trunk.name, variable: trunk.digest.password_env },
            'SIP trunk digest password variable is not set: every INVITE of this trunk is refused',
          );
        }
        return {
          policy: { realm: REALM, secret: this.o.nonceSecret },
          // no password: credentials nobody can know, so the trunk's INVITEs get 407 / 403
          credentials: { username: trunk.digest.username, password: password || randomBytes(24).toString('hex') },
        };
      },
    });
    if (!('accept' in verdict)) return verdict;
    const { trunk, number } = verdict.context;
    const file = host.file();
    const route = file.numbers[number];
    const ivr = route?.ivr && !route.agent ? route.ivr : undefined;
    if (ivr && !ivr.prompt.say) {
      // a recording by URL would be fetched from wherever the file says: over SIP only spoken prompts
      this.o.logger.warn({ to: maskNumber(number) }, 'SIP call to an IVR number whose prompt is play_url only: 501');
      return { reject: 501 };
    }
    const agent = ivr ? undefined : host.agent(route?.agent ?? file.sip?.default_agent ?? '');
    if (!agent && !ivr) return { reject: 404 };
    if (host.draining || this.closed || host.atCapacity()) {
      return { reject: 503, headers: [{ name: 'Retry-After', value: RETRY_AFTER_S }] };
    }
    const routed: Routed = { trunk, number, ...(agent ? { agent } : {}), ...(ivr ? { ivr } : {}) };
    return { accept: true, context: routed };
  }

  private async onInvite(call: IncomingCall): Promise<InviteOutcome> {
    const { trunk, number, ivr } = call.context as Routed;
    let agent = (call.context as Routed).agent;
    const host = this.o.host;
    const busy: InviteOutcome = { status: 503, headers: [{ name: 'Retry-After', value: RETRY_AFTER_S }] };
    const callSid = `SIP${randomBytes(16).toString('hex')}`;
    // an IVR call takes its slot when the caller chooses an agent (as on Twilio)
    if (!ivr && !(await host.admit(callSid))) return busy;
    const socket = await bindRtpSocket(this.pool, this.o.env.host);
    if (!socket) {
      this.o.logger.error('SIP call refused: no free RTP port in RTP_PORT_MIN..RTP_PORT_MAX');
      return busy;
    }
    const sessionId = String(randomInt(1, 2 ** 47));
    const answer = answerOffer(call.invite.body.toString('utf8'), {
      publicAddress: this.o.env.publicAddress,
      rtpPort: socket.port,
      sessionId,
      sessionVersion: 1,
    });
    if (!answer.ok || call.signal.aborted) {
      await socket.close();
      return answer.ok ? { status: 487 } : { status: answer.status };
    }
    const media = new SipRtpMedia({
      id: `sip-${callSid.slice(3, 19)}`,
      socket,
      negotiated: answer.media,
      clock: this.o.clock,
    });
    // the session ending any way (engine ended, fallback, shutdown) ends the dialog: BYE
    media.onClose = () => call.hangup();
    const from = callerNumber(call.invite);
    // the caller's leg as a second leg (B2BUA, warm transfer) joins it
    const callerSide: CallerSide = {
      callId: call.callId,
      from: `<sip:${from ?? 'anonymous'}@${addrOf(this.o.env.publicAddress)}>`,
      codec: answer.media.codec,
      ...(answer.media.telephoneEvent ? { telephoneEvent: answer.media.telephoneEvent } : {}),
      release: () => media.release(),
      hangup: () => call.hangup(),
      signal: call.signal,
    };
    const proxy = trunk.outbound_proxy ? { proxy: trunk.outbound_proxy } : {};
    const dialog: SipDialogControl = {
      hangup: () => call.hangup(),
      refer: (uri, onFinal) =>
        call.request(
          'REFER',
          [
            { name: 'Refer-To', value: `<${uri}>` },
            { name: 'Referred-By', value: `<${this.contact}>` },
          ],
          (res) => onFinal(res?.status),
        ),
      onReferStatus: undefined,
      bridge: (uri, headers) =>
        this.b2bua.connect(callerSide, uri, { ...proxy, timeoutMs: (agent?.transfer.timeout_s ?? 30) * 1000, headers }),
      dialHuman: (uri, headers, ringTimeoutMs) =>
        this.b2bua.dialHuman(callerSide, answer.media, uri, { ...proxy, timeoutMs: ringTimeoutMs, headers }),
    };
    this.dialogs.set(call.callId, dialog);
    const legOptionsFor = (a: AgentConfig | undefined) => ({
      numberUri: (e164: string) => numberUri(e164, trunk.outbound_proxy),
      transferTimeoutMs: (a?.transfer.timeout_s ?? 30) * 1000,
      refer: trunk.transfer === 'refer',
      fallbackAudio: () => (a ? host.fallbackAudio?.(a.id) : undefined),
    });
    if (ivr) {
      const ivrCall: IvrCall = { call, callSid, number, trunk, from, media, dialog, legOptionsFor };
      this.ivrCalls.set(call.callId, media);
      // the menu speaks once the 200 is on its way (this answer is what sends it)
      setImmediate(
        () =>
          void runIvrCall(ivrCall, ivr, {
            host,
            logger: this.o.logger,
            setAgent: (a) => (agent = a),
            adopt: (session) => {
              this.ivrCalls.delete(call.callId);
              this.live.set(call.callId, {
                call,
                dialog,
                session,
                media,
                sdp: { sessionId, version: 1, last: answer.sdp },
              });
            },
          }),
      );
      this.o.logger.info({ callSid, trunk: trunk.name, to: maskNumber(number) }, 'SIP call to an IVR number: answered');
      return { answer: answer.sdp };
    }
    const legOptions = legOptionsFor(agent);
    const session = host.startCall(
      {
        callSid,
        agent: agent!,
        ...(from ? { from } : {}),
        to: number,
        direction: 'inbound',
        transport: 'sip',
        trunk: trunk.name,
      },
      (_info, log) => new SipLeg(dialog, () => media, log, legOptions),
    );
    this.o.logger.info(
      { callSid, trunk: trunk.name, from: maskNumber(from), to: maskNumber(number), codec: answer.media.codec.name },
      'SIP call ringing: engine session opening',
    );
    const waitMs = host.file().sip?.answer_wait_ms ?? 5000;
    const ready = await waitReady(session.answerable, waitMs, call.signal);
    if (ready !== 'ready' || session.isEnded) {
      this.dialogs.delete(call.callId);
      media.onClose = undefined;
      media.close();
      if (!session.isEnded) session.end(ready === 'cancel' ? 'caller_hangup' : 'no_stream');
      if (ready === 'timeout') this.o.logger.warn({ callSid, waitMs }, 'SIP call: agent not ready in time, 480');
      return { status: 480 };
    }
    this.live.set(call.callId, { call, dialog, session, media, sdp: { sessionId, version: 1, last: answer.sdp } });
    session.attachStream(media);
    media.start(session);
    return { answer: answer.sdp };
  }

  private onEnded(call: IncomingCall, why: EndReason): void {
    this.b2bua.callerEnded(call.callId);
    const menu = this.ivrCalls.get(call.callId);
    if (menu) {
      // the caller left during the menu: its media (and port) go
      this.ivrCalls.delete(call.callId);
      this.dialogs.delete(call.callId);
      menu.onClose = undefined;
      menu.close();
    }
    const l = this.live.get(call.callId);
    if (this.dialogs.get(call.callId) === l?.dialog) this.dialogs.delete(call.callId);
    if (!l || l.call !== call) return;
    this.live.delete(call.callId);
    // `local`: the session asked for the BYE and owns the ending; otherwise the far end did
    if (why !== 'local' && !l.session.isEnded) l.session.onStreamEnded(l.media, why === 'bye' ? 'stop' : why);
    l.media.close();
    const latched = l.media.latched;
    this.onMediaReport?.({
      callId: call.callId,
      packetsIn: l.media.packetsIn,
      packetsOut: l.media.packetsOut,
      latched: latched ? { address: latched.address, port: latched.port } : undefined,
    });
  }

  /**
   * Hold, resume and session refreshes (RFC 3264 §8): the answer has the complementary direction
   * (`recvonly` for a `sendonly` hold), our o= version rises only when the answer changes, and a
   * held call sends nothing and is not timed out. A re-INVITE without SDP gets the last answer; one
   * that would change the codec is refused (488): the call keeps its media.
   */
  private onReinvite(call: IncomingCall, req: SipRequest): { answer: string } | { status: number } {
    const l = this.live.get(call.callId);
    if (!l || l.call !== call) return { status: 481 };
    if (req.body.length === 0) return { answer: l.sdp.last };
    const local = {
      publicAddress: this.o.env.publicAddress,
      rtpPort: l.media.rtpPort,
      sessionId: l.sdp.sessionId,
      sessionVersion: l.sdp.version,
    };
    let a = answerOffer(req.body.toString('utf8'), local);
    if (!a.ok) return { status: a.status };
    if (a.media.codec.name !== l.media.codecName) return { status: 488 };
    if (a.sdp !== l.sdp.last) {
      l.sdp.version++;
      a = answerOffer(req.body.toString('utf8'), { ...local, sessionVersion: l.sdp.version });
      if (!a.ok) return { status: a.status };
      l.sdp.last = a.sdp;
    }
    l.media.renegotiate(a.media);
    this.o.logger.info({ offered: a.media.offered, answered: a.media.answered }, 'SIP re-INVITE answered');
    return { answer: a.sdp };
  }

  /** A REFER's progress: the status line of its `message/sipfrag` body. */
  private onNotify(call: IncomingCall, req: SipRequest): void {
    const event = (header(req, 'Event') ?? '').split(';')[0]!.trim().toLowerCase();
    if (event !== 'refer') return;
    const m = /^\s*SIP\/2\.0\s+(\d{3})\b/.exec(req.body.toString('utf8', 0, Math.min(req.body.length, 256)));
    if (m) this.dialogs.get(call.callId)?.onReferStatus?.(Number(m[1]));
  }

  /** DTMF by SIP INFO (`application/dtmf-relay`), the fallback of PBXs without RFC 4733. */
  private onInfo(call: IncomingCall, req: SipRequest): void {
    const l = this.live.get(call.callId);
    const digit = parseDtmfInfo(header(req, 'Content-Type'), req.body);
    if (l && digit && !l.session.isEnded) l.session.onDtmf(digit);
  }

  private checkMedia(timeoutMs: number): void {
    const now = performance.now();
    this.b2bua.checkMedia(timeoutMs);
    for (const l of [...this.live.values()]) {
      // a closed media is ending its dialog, or was handed to a B2BUA relay (watched above)
      if (l.media.isClosed || l.media.held || now - l.media.lastPacketAt < timeoutMs) continue;
      this.o.logger.warn({ timeoutMs }, 'SIP call: no RTP for too long, hanging up');
      l.session.onStreamEnded(l.media, 'rtp_timeout');
      l.call.hangup();
    }
  }
}

/** An address as the host part of a URI (IPv6 in brackets). */
const addrOf = (a: string) => (isIPv6(a) ? `[${a}]` : a);

/** `sip:+E164@proxy-host[:port]`: a number target dialled through the trunk's outbound proxy. */
function numberUri(e164: string, proxy: string | undefined): string | undefined {
  const u = proxy === undefined ? undefined : parseSipUri(proxy);
  if (!u) return undefined;
  const host = u.host.includes(':') && !u.host.startsWith('[') ? `[${u.host}]` : u.host;
  return `${u.scheme === 'sips' ? 'sips' : 'sip'}:${e164}@${host}${u.port ? `:${u.port}` : ''}`;
}

function callerNumber(req: SipRequest): string | undefined {
  const from = header(req, 'From');
  const uri = from === undefined ? undefined : parseNameAddr(from)?.uri;
  const user = uri === undefined ? undefined : parseSipUri(uri)?.user;
  return user === undefined ? undefined : normaliseE164(user);
}
