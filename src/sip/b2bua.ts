import { randomInt } from 'node:crypto';
import type { LegResult } from '../call/leg.js';
import type { PaceClock } from '../call/pace-clock.js';
import { SipRtpMedia } from './call-leg.js';
import type { Negotiated } from './sdp.js';
import type { HumanLeg } from './warm.js';
import type { Logger } from '../observability/logger.js';
import { RtpLatch } from '../rtp/latch.js';
import { bindRtpSocket, type PortPool } from '../rtp/port-pool.js';
import { RtpRelay, type RelaySide } from '../rtp/relay.js';
import type { SipHeader } from './headers.js';
import type { G711 } from './sdp.js';
import { buildOffer, readAnswer } from './sdp-offer.js';
import type { OutDialog, Uac } from './uac.js';
import { parseSipUri } from './uri.js';
import type { Destination } from './via.js';

/**
 * `transfer: invite` (a trunk that refuses REFER): the bridge calls the target itself and joins
 * the two legs' RTP (src/rtp/relay.ts), so the caller and the human talk through it while the
 * agent's session ends. Either side's BYE ends the other; so do 30 s without RTP from one side and
 * the bridge's shutdown. A joined pair holds two RTP ports and no engine session.
 */

/** The caller's leg as the join needs it. */
export interface CallerSide {
  callId: string;
  /** the caller's name-addr as the target should see it (no tag) */
  from: string;
  codec: { payload: number; name: G711 };
  telephoneEvent?: { payload: number };
  /** takes the caller's RTP over from the call's media (nothing more goes to the session) */
  release(): RelaySide;
  /** BYE to the caller */
  hangup(): void;
  /** aborted when the caller's dialog ends: a second leg still ringing is cancelled */
  signal: AbortSignal;
}

export interface B2buaOptions {
  uac: Uac;
  /** the playout clock a warm transfer's whisper is paced by */
  clock: PaceClock;
  pool: PortPool;
  bindHost: string;
  publicAddress: string;
  logger: Logger;
}

interface Joined {
  caller: CallerSide;
  human: OutDialog;
  relay: RtpRelay;
}

export class B2bua {
  private readonly joined = new Map<string, Joined>();

  constructor(private readonly o: B2buaOptions) {}

  get activePairs(): number {
    return this.joined.size;
  }

  /**
   * INVITEs `uri` (via `proxy` when the trunk has one) offering the caller's codec; a 2xx joins the
   * legs and resolves ok, anything else leaves the caller with the agent and says why.
   */
  async connect(
    caller: CallerSide,
    uri: string,
    o: { proxy?: string; timeoutMs: number; headers?: SipHeader[] },
  ): Promise<LegResult> {
    const r = await this.dial(caller, uri, o);
    if (!r.ok) return r;
    return this.join(caller, r.leg.dialog, r.leg.side);
  }

  /**
   * The second leg alone, answered and not joined (a warm transfer whispers to it first): its
   * dialog and its RTP side (the socket, a latch on the answer's address, telephone-event).
   */
  async dial(
    caller: CallerSide,
    uri: string,
    o: { proxy?: string; timeoutMs: number; headers?: SipHeader[] },
  ): Promise<
    | { ok: true; leg: { dialog: OutDialog; side: RelaySide; remote: { address: string; port: number } } }
    | { ok: false; message: string; detail?: { sip_status: number } }
  > {
    const dest = destinationOf(o.proxy ?? uri);
    if (!dest) return { ok: false, message: 'the transfer target has no host to send to' };
    const socket = await bindRtpSocket(this.o.pool, this.o.bindHost);
    if (!socket) return { ok: false, message: 'no free RTP port for the second leg' };
    const media = { codec: caller.codec, ...(caller.telephoneEvent ? { telephoneEvent: caller.telephoneEvent } : {}) };
    const sdp = buildOffer(
      {
        publicAddress: this.o.publicAddress,
        rtpPort: socket.port,
        sessionId: String(randomInt(1, 2 ** 47)),
        sessionVersion: 1,
      },
      media,
    );
    const r = await this.o.uac.invite({
      uri,
      dest,
      from: caller.from,
      sdp,
      timeoutMs: o.timeoutMs,
      signal: caller.signal,
      ...(o.headers ? { headers: o.headers } : {}),
    });
    if (!r.ok) {
      await socket.close();
      return { ok: false, message: `the transfer target answered ${r.status}`, detail: { sip_status: r.status } };
    }
    const answer = readAnswer(r.answer, media);
    if (caller.signal.aborted) {
      // the caller left while the human answered: nobody to join
      r.dialog.hangup();
      await socket.close();
      return { ok: false, message: 'the caller hung up' };
    }
    if ('error' in answer) {
      r.dialog.hangup();
      await socket.close();
      return { ok: false, message: answer.error, detail: { sip_status: 488 } };
    }
    const side: RelaySide = {
      socket,
      latch: new RtpLatch(answer.remote),
      ...(answer.telephoneEvent !== undefined ? { telephoneEvent: answer.telephoneEvent } : {}),
    };
    return { ok: true, leg: { dialog: r.dialog, side, remote: answer.remote } };
  }

  /** Joins the caller's RTP to an answered second leg's; either side's BYE then ends both. */
  join(caller: CallerSide, human: OutDialog, side: RelaySide): LegResult {
    if (caller.signal.aborted) {
      human.hangup();
      void side.socket.close();
      return { ok: false, message: 'the caller hung up' };
    }
    const relay = new RtpRelay(caller.release(), side);
    const pair: Joined = { caller, human, relay };
    this.joined.set(caller.callId, pair);
    // the human hung up: the caller's leg ends too
    human.onEnded = (why) => {
      if (why === 'bye') this.end(pair, 'human');
    };
    this.o.logger.info('SIP transfer (B2BUA): caller and target joined');
    return { ok: true };
  }

  /**
   * A warm transfer's human: the second leg answered, with media of its own (the whisper goes
   * there alone, the accept key comes from there) until it is joined to the caller's.
   */
  async dialHuman(
    caller: CallerSide,
    callerMedia: Negotiated,
    uri: string,
    o: { proxy?: string; timeoutMs: number; headers: SipHeader[] },
  ): Promise<{ ok: true; human: HumanLeg } | { ok: false; status: number; message: string }> {
    const r = await this.dial(caller, uri, o);
    if (!r.ok) return { ok: false, status: r.detail?.sip_status ?? 500, message: r.message };
    const { dialog, side, remote } = r.leg;
    const media = new SipRtpMedia({
      id: `sip-human-${caller.callId.slice(0, 12)}`,
      socket: side.socket,
      negotiated: {
        codec: callerMedia.codec,
        ...(side.telephoneEvent !== undefined ? { telephoneEvent: { payload: side.telephoneEvent } } : {}),
        remote,
        offered: 'sendrecv',
        answered: 'sendrecv',
      },
      clock: this.o.clock,
    });
    let joined = false;
    const human: HumanLeg = {
      media,
      join: () => {
        joined = true;
        return this.join(caller, dialog, media.release());
      },
      hangup: () => {
        media.close();
        dialog.hangup();
      },
      onEnded: undefined,
    };
    // the human hung up during the whisper: the attempt is over (once joined, the pair handles it)
    dialog.onEnded = (why) => {
      if (why !== 'bye' || joined) return;
      media.close();
      human.onEnded?.();
    };
    return { ok: true, human };
  }

  /** The caller's dialog ended (its BYE, a session-timer expiry): the human's ends too. */
  callerEnded(callId: string): void {
    const pair = this.joined.get(callId);
    if (pair) this.end(pair, 'caller');
  }

  /** Pairs where one side sent nothing for `timeoutMs` (it is gone) are ended on both sides. */
  checkMedia(timeoutMs: number): void {
    const now = performance.now();
    for (const pair of [...this.joined.values()]) {
      if (now - pair.relay.quietSince < timeoutMs) continue;
      this.o.logger.warn({ timeoutMs }, 'SIP transfer (B2BUA): one side sent no RTP for too long, hanging up both');
      this.end(pair, 'timeout');
    }
  }

  closeAll(): void {
    for (const pair of [...this.joined.values()]) this.end(pair, 'shutdown');
  }

  private end(pair: Joined, by: 'caller' | 'human' | 'timeout' | 'shutdown'): void {
    if (this.joined.get(pair.caller.callId) !== pair) return;
    this.joined.delete(pair.caller.callId);
    pair.human.onEnded = undefined;
    if (by !== 'human') pair.human.hangup();
    if (by !== 'caller') pair.caller.hangup();
    void pair.relay.close();
    this.o.logger.info({ by, relayed: pair.relay.relayed }, 'SIP transfer (B2BUA) ended');
  }
}

/** Where requests for `uri` go: its host and port (5060 by default), over its transport (UDP unless said). */
export function destinationOf(uri: string): Destination | undefined {
  const u = parseSipUri(uri);
  if (!u || u.scheme === 'tel' || !u.host) return undefined;
  const host = u.host.startsWith('[') ? u.host.slice(1, -1) : u.host;
  const transport = String(u.params.transport ?? 'udp').toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  return { transport, address: host, port: u.port ?? 5060 };
}
