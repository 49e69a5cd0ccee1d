import type { LegListener, LegMedia, LegResult, TelephonyLeg } from '../call/leg.js';
import type { PaceClock, Paced } from '../call/pace-clock.js';
import type { TransferTarget } from '../config/schema.js';
import { decodeAlaw, encodeAlaw } from '../audio/alaw.js';
import { generateDtmf } from '../audio/dtmf.js';
import { decodeMulaw, encodeMulaw } from '../audio/mulaw.js';
import type { Logger } from '../observability/logger.js';
import { DtmfReceiver } from '../rtp/dtmf-receiver.js';
import { RtpLatch, type Endpoint } from '../rtp/latch.js';
import type { RelaySide } from '../rtp/relay.js';
import { speakMulaw8k } from '../speech/telephone.js';
import { SipWarm, type DialHuman } from './warm.js';
import { isRtcp, parseRtp, type RtpPacket } from '../rtp/packet.js';
import type { RtpSocket } from '../rtp/port-pool.js';
import { ReorderBuffer } from '../rtp/reorder.js';
import { RtpSender } from '../rtp/sender.js';
import type { Negotiated } from './sdp.js';

/**
 * The SIP/RTP implementation of the call core's leg (src/call/leg.ts): `SipRtpMedia` is the
 * dialog's RTP (caller-bound 20 ms packets paced by the bridge's playout clock, caller audio
 * reordered and handed to the session as μ-law), `SipLeg` the dialog's control (BYE, RFC 4733
 * or in-band digits). The call core sees neither RTP nor SIP.
 */

const FRAME = 160;
/** the sender holds this much unsent audio (frames, 2 s) before the playback is told to wait */
const MAX_QUEUED_FRAMES = 100;
/** caller audio missing this long (ms) is replaced by silence, 20 ms per tick */
const FILL_AFTER_MS = 200;

/** A-law ⇄ μ-law by 256-entry tables, built once: the core speaks μ-law, a PCMA dialog A-law. */
const byteRange = Uint8Array.from({ length: 256 }, (_, i) => i);
const MU_TO_A = encodeAlaw(decodeMulaw(byteRange));
const A_TO_MU = encodeMulaw(decodeAlaw(byteRange));

function translate(src: Uint8Array, table: Uint8Array, dst: Uint8Array): Uint8Array {
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]!]!;
  return dst.subarray(0, src.length);
}

export interface SipMediaOptions {
  id: string;
  socket: RtpSocket;
  negotiated: Negotiated;
  clock: PaceClock;
}

/**
 * One dialog's RTP as the session's media. Marks are echoed when the sender has put on the wire
 * every frame queued before them (what has been sent at the playout pace is what the caller
 * hears: there is no further buffer the bridge could know of); a clear drops the queue and the
 * marks not yet reached. Symmetric RTP: packets go where the peer's first packet came from.
 */
export class SipRtpMedia implements LegMedia, Paced {
  readonly id: string;
  private listener: LegListener | undefined;
  private readonly sender: RtpSender;
  private readonly latch: RtpLatch;
  private readonly reorder = new ReorderBuffer<RtpPacket>(4);
  private readonly dtmf: DtmfReceiver;
  private readonly marks: { at: number; name: string }[] = [];
  /** audio frames handed to the sender (minus the cleared ones) */
  private queued = 0;
  private readonly scratch = new Uint8Array(FRAME * 3);
  private readonly pcma: boolean;
  private tsBase: number | undefined;
  private tsSsrc: number | undefined;
  private tsOffsetMs = 0;
  private lastMs = 0;
  /** clock time of the last caller audio handed on (real or filled), for the silence fill */
  private lastAudioAt = 0;
  /** silence was filled since the last packet: the next one re-bases the media timeline */
  private filled = false;
  private readonly silenceFrame: Uint8Array = new Uint8Array(FRAME).fill(0xff);
  private closed = false;
  /** performance.now() of the last RTP packet accepted (or of the start): the media timeout reads it */
  lastPacketAt = performance.now();
  packetsIn = 0;
  /** called once when the media closes (the server ends the dialog with it) */
  onClose: (() => void) | undefined;

  /** the peer put the call on hold (its offer sendonly or inactive): nothing is sent, no media timeout */
  held = false;
  /** the call's last words are queued (sayLast): the session's audio is no longer taken */
  private final = false;
  private readonly onMessage: (buf: Buffer, rinfo: Endpoint) => void;

  constructor(private readonly o: SipMediaOptions) {
    this.id = o.id;
    this.pcma = o.negotiated.codec.name === 'PCMA';
    this.latch = new RtpLatch(o.negotiated.remote);
    // the sender is ticked by this media (after each tick the marks are checked), not by the clock
    const clock = o.clock;
    const own: PaceClock = { periodMs: clock.periodMs, now: () => clock.now(), join: () => {}, leave: () => {} };
    this.sender = new RtpSender({
      clock: own,
      payloadType: o.negotiated.codec.payload,
      silence: this.pcma ? 0xd5 : 0xff,
      send: (packet) => this.sendPacket(packet),
      ...(o.negotiated.telephoneEvent ? { telephoneEventPt: o.negotiated.telephoneEvent.payload } : {}),
    });
    this.dtmf = new DtmfReceiver((d) => this.listener?.onDtmf(d.digit));
    this.onMessage = (buf, rinfo) => this.onDatagram(buf, rinfo);
    o.socket.socket.on('message', this.onMessage);
  }

  /** RTP flows both ways from here (the 200 OK is on its way). */
  start(listener: LegListener): void {
    if (this.closed) return;
    this.listener = listener;
    this.lastPacketAt = performance.now();
    this.lastAudioAt = this.o.clock.now();
    this.sender.start();
    this.o.clock.join(this);
  }

  /** The call's media goes to another listener from here (an IVR menu hands the caller to its agent). */
  handTo(listener: LegListener): void {
    if (!this.closed) this.listener = listener;
  }

  /**
   * A re-INVITE's answer took effect: RTP goes to the new address once a packet latches it again,
   * and while the peer holds the call (we answered recvonly / inactive) nothing is sent.
   */
  renegotiate(n: Negotiated): void {
    this.latch.reset(n.remote);
    this.held = n.answered === 'recvonly' || n.answered === 'inactive';
    this.lastPacketAt = performance.now();
  }

  get codecName(): string {
    return this.o.negotiated.codec.name;
  }

  get rtpPort(): number {
    return this.o.socket.port;
  }

  get packetsOut(): number {
    return this.sender.packetsSent;
  }

  /** where the caller's RTP is latched (where ours goes); undefined before its first packet */
  get latched(): Endpoint | undefined {
    return this.latch.isLatched ? this.latch.target : undefined;
  }

  get hasTelephoneEvent(): boolean {
    return this.o.negotiated.telephoneEvent !== undefined;
  }

  tick(): void {
    this.fillSilence();
    this.sender.tick();
    const sent = this.queued - this.sender.queuedFrames;
    while (this.marks.length > 0 && this.marks[0]!.at <= sent) this.listener?.onMark(this.marks.shift()!.name);
  }

  /**
   * The last audio of the call (the fallback recording): what is queued is dropped, this goes out,
   * and the session's playback (hold, a late reply) is no longer heard over it.
   */
  sayLast(mulaw: Uint8Array): void {
    this.sendClear();
    this.sendAudio(mulaw);
    this.final = true;
  }

  sendAudio(mulaw: Uint8Array): void {
    if (this.final) return;
    // a reply's short last frame is completed with silence: a 20 ms packet is the unit on the wire
    const whole = Math.ceil(mulaw.length / FRAME) * FRAME;
    const out = Buffer.alloc(whole, this.pcma ? 0xd5 : 0xff);
    if (this.pcma) for (let i = 0; i < mulaw.length; i++) out[i] = MU_TO_A[mulaw[i]!]!;
    else out.set(mulaw);
    this.enqueue(out);
  }

  private enqueue(bytes: Buffer): void {
    this.sender.enqueue(bytes);
    this.queued += bytes.length / FRAME;
  }

  sendMark(name: string): void {
    this.marks.push({ at: this.queued, name });
  }

  sendClear(): void {
    if (this.final) return;
    this.queued -= this.sender.queuedFrames;
    this.sender.clear();
    this.marks.length = 0; // never echoed: the playback's ledger counts them stale
  }

  /** 20 ms frames queued and not yet sent */
  get pendingFrames(): number {
    return this.sender.queuedFrames;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  backlogged(): boolean {
    return this.sender.queuedFrames > MAX_QUEUED_FRAMES;
  }

  /** RFC 4733 events when negotiated (false otherwise, or for a digit it cannot send). */
  sendEventDigits(digits: string): boolean {
    return this.sender.sendDigits(digits);
  }

  /** DTMF as tones in the audio, behind what is queued. */
  sendToneDigits(digits: string): void {
    const mu = encodeMulaw(generateDtmf(digits, 8000));
    this.sendAudio(mu);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sender.stop();
    this.o.clock.leave(this);
    this.marks.length = 0;
    void this.o.socket.close();
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
  }

  /**
   * Hands the dialog's RTP to a relay (a B2BUA transfer): from here nothing is sent or taken for
   * the session, the socket and its latch go to the relay, and close() does nothing more (no BYE).
   */
  release(): RelaySide {
    this.closed = true;
    this.sender.stop();
    this.o.clock.leave(this);
    this.marks.length = 0;
    this.onClose = undefined;
    this.o.socket.socket.off('message', this.onMessage);
    const te = this.o.negotiated.telephoneEvent;
    return { socket: this.o.socket, latch: this.latch, ...(te ? { telephoneEvent: te.payload } : {}) };
  }

  private sendPacket(packet: Buffer): void {
    const to = this.latch.target;
    if (!to || this.closed || this.held) return;
    try {
      this.o.socket.socket.send(packet, to.port, to.address);
    } catch {
      // the port went back to the pool under a late tick: a lost packet, never a crash
    }
  }

  private onDatagram(buf: Buffer, from: Endpoint): void {
    if (this.closed || !this.listener) return; // nothing before the answer: no early media
    if (isRtcp(buf)) return; // RTCP on the RTP port (RFC 5761) is ignored
    const p = parseRtp(buf);
    if (!p || !this.latch.accept(from)) return;
    this.lastPacketAt = performance.now();
    this.packetsIn++;
    const n = this.o.negotiated;
    if (n.telephoneEvent && p.payloadType === n.telephoneEvent.payload) return this.dtmf.onPacket(p);
    if (p.payloadType !== n.codec.payload) return; // comfort noise and the like
    for (const q of this.reorder.push(p)) this.deliver(q);
  }

  /**
   * A caller that stops sending (silence suppression, a UA that sends nothing while muted, the
   * end of a recording) would stop the engine's clock, and its endpointer with it: past
   * FILL_AFTER_MS without audio, 20 ms of μ-law silence per tick stand in for the missing RTP.
   */
  private fillSilence(): void {
    if (!this.listener) return;
    const now = this.o.clock.now();
    if (now - this.lastAudioAt < FILL_AFTER_MS) return;
    this.listener.onMedia(this.silenceFrame, this.lastMs);
    this.lastMs += FRAME / 8;
    this.lastAudioAt = now - FILL_AFTER_MS + this.o.clock.periodMs;
    this.filled = true;
  }

  private deliver(p: RtpPacket): void {
    const bytes = p.payload;
    if (bytes.length === 0 || bytes.length > this.scratch.length) return;
    this.lastAudioAt = this.o.clock.now();
    if (this.tsSsrc !== p.ssrc || this.filled) {
      this.filled = false;
      // a new source (a restarted sender), or the first packet after filled silence, carries on
      // from where the caller's timeline stopped
      this.tsSsrc = p.ssrc;
      this.tsBase = p.timestamp;
      this.tsOffsetMs = this.lastMs;
    }
    const ms = this.tsOffsetMs + ((p.timestamp - this.tsBase!) >>> 0) / 8;
    this.lastMs = ms + bytes.length / 8;
    const mulaw = this.pcma ? translate(bytes, A_TO_MU, this.scratch) : bytes;
    this.listener!.onMedia(mulaw, ms);
  }
}

/** The dialog's side the leg acts on (built by the server over src/sip/uas.ts's IncomingCall). */
export interface SipDialogControl {
  hangup(): void;
  /** sends REFER with this Refer-To; `onFinal` gets the final status (undefined: none came) */
  refer(uri: string, onFinal: (status: number | undefined) => void): boolean;
  /** the status line of each REFER NOTIFY's sipfrag, once the leg listens */
  onReferStatus: ((status: number) => void) | undefined;
  /** `transfer: invite`: calls `uri` and joins its RTP to this dialog's (src/sip/b2bua.ts) */
  bridge?(uri: string, headers: { name: string; value: string }[]): Promise<LegResult>;
  /** a warm transfer's second leg, answered and not yet joined (src/sip/warm.ts) */
  dialHuman?: DialHuman;
}

export interface SipLegOptions {
  /** the SIP URI a `kind: number` target is dialled at (the trunk's outbound_proxy); undefined: none */
  numberUri(e164: string): string | undefined;
  /** how long a transfer waits for the final NOTIFY */
  transferTimeoutMs: number;
  /** the trunk takes REFER (`transfer: refer`); false: `transfer: invite`, a second leg joined to this one */
  refer?: boolean;
  /** the agent's recorded fallback message at 8 kHz (`fallback.wav`), read when it is needed */
  fallbackAudio?: () => Int16Array | undefined;
}

/** The longest the fallback message's synthesis may take before the call is hung up without it. */
const SYNTHESIS_WAIT_MS = 3000;

/** A fallback recording plays at most this long (bounded like the Twilio message's 500 characters). */
const MAX_FALLBACK_MS = 30_000;
/**
 * After our last packet the phone still plays what its jitter buffer holds (baresip ~100 ms,
 * phones and SBCs up to ~200 ms), and a BYE stops that playout: the message's end would be lost.
 */
const FAR_END_PLAYOUT_MS = 300;

const failed = (message: string, sipStatus?: number): LegResult => ({
  ok: false,
  message,
  ...(sipStatus !== undefined ? { detail: { sip_status: sipStatus } } : {}),
});

/**
 * A SIP call's control. Hang-up is a BYE (the UAS retransmits it; a 481 counts as done). Digits go
 * as RFC 4733 events when the offer had telephone-event, else as tones in the audio. Transfer is
 * a blind REFER: success only on a final 2xx `message/sipfrag` NOTIFY (`202 Accepted` is not
 * success); a refused REFER, a 3xx-6xx NOTIFY or none in time leaves the call with the agent. On
 * a `transfer: invite` trunk it is a second leg instead: success only on its 2xx, the legs joined.
 */
export class SipLeg implements TelephonyLeg {
  readonly unavailable = undefined;
  readonly resumeKey = undefined;
  /** warm transfers by a second leg (src/sip/warm.ts), when the dialog can start one */
  readonly warm: SipWarm | undefined;
  private hungUp = false;
  private transferring = false;

  /** RFC 4733 negotiated: `send_dtmf` goes out as events, not tones in the agent's audio */
  get digitsOutOfBand(): boolean {
    return this.media()?.hasTelephoneEvent ?? false;
  }

  constructor(
    private readonly dialog: SipDialogControl,
    private readonly media: () => SipRtpMedia | undefined,
    private readonly log: Logger,
    private readonly o: SipLegOptions = { numberUri: () => undefined, transferTimeoutMs: 30_000 },
  ) {
    this.warm = dialog.dialHuman ? new SipWarm(dialog.dialHuman, (t) => this.uriOf(t), log) : undefined;
  }

  /** Where a target is dialled: a `sip` target as written, a `number` through the trunk's proxy. */
  private uriOf(target: TransferTarget): string | undefined {
    if (target.kind === 'sip') return target.value;
    if (target.kind === 'number') return this.o.numberUri(target.value);
    return undefined;
  }

  hangup(): Promise<void> {
    if (!this.hungUp) {
      this.hungUp = true;
      this.dialog.hangup();
    }
    return Promise.resolve();
  }

  /**
   * The agent's recording of the message (`fallback.wav`), else the message text as the bridge's
   * offline synthesizer says it (SIP has no telephony text to speech), is played in place of
   * whatever was queued; the BYE follows once it has gone out and the phone has had time to play
   * it (FAR_END_PLAYOUT_MS).
   */
  async hangupWithMessage(message: string): Promise<void> {
    const media = this.media();
    if (!media || this.hungUp) return this.hangup();
    const recorded = this.o.fallbackAudio?.();
    // the recording, else the message as the offline synthesizer says it (bounded in time: a
    // synthesizer that does not answer must not hold the call)
    const mulaw = recorded
      ? encodeMulaw(recorded.subarray(0, (MAX_FALLBACK_MS * 8000) / 1000))
      : await this.spoken(message);
    if (!mulaw || media.isClosed) {
      this.log.warn('SIP call: the fallback message could not be said; hanging up');
      return this.hangup();
    }
    const said = mulaw.subarray(0, (MAX_FALLBACK_MS * 8000) / 1000);
    media.sayLast(said);
    // bounded: the message's length and a margin for a late clock, however the sender fares
    const deadline = performance.now() + said.length / 8 + 2000;
    while (media.pendingFrames > 0 && !media.isClosed && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    if (!media.isClosed) await new Promise((r) => setTimeout(r, FAR_END_PLAYOUT_MS));
    return this.hangup();
  }

  private async spoken(message: string): Promise<Uint8Array | undefined> {
    if (!message.trim()) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), SYNTHESIS_WAIT_MS)));
    const said = await Promise.race([speakMulaw8k(message.slice(0, 500), this.log).catch(() => undefined), late]);
    clearTimeout(timer);
    return said;
  }

  /**
   * REFER to the target. A context id rides in the Refer-To URI as the header `X-Context-Id`
   * (RFC 3261 §19.1.1 headers in a URI): the transferee puts it on the INVITE it sends the target.
   */
  transfer(target: TransferTarget, o: { contextId?: string } = {}): Promise<LegResult> {
    let uri: string | undefined;
    if (target.kind === 'sip') uri = target.value;
    else if (target.kind === 'number') {
      uri = this.o.numberUri(target.value);
      if (!uri) return Promise.resolve(failed("a number target needs the trunk's outbound_proxy"));
    } else return Promise.resolve(failed(`a ${target.kind} target cannot be reached from a SIP call`));
    const contextId = o.contextId !== undefined && /^[A-Za-z0-9-]{1,64}$/.test(o.contextId) ? o.contextId : undefined;
    if (this.transferring) return Promise.resolve(failed('a transfer is already under way'));
    if (this.o.refer === false) return this.bridge(target, uri, contextId);
    if (contextId !== undefined) uri = `${uri}${uri.includes('?') ? '&' : '?'}X-Context-Id=${contextId}`;
    this.transferring = true;
    return new Promise<LegResult>((resolve) => {
      const finish = (r: LegResult) => {
        clearTimeout(timer);
        this.dialog.onReferStatus = undefined;
        this.transferring = false;
        this.log.info({ target: target.name, ok: r.ok, ...(r.ok ? {} : r.detail) }, 'SIP transfer (REFER) finished');
        resolve(r);
      };
      const timer = setTimeout(() => finish(failed('no final NOTIFY in time', 408)), this.o.transferTimeoutMs);
      this.dialog.onReferStatus = (status) => {
        if (status < 200) return; // 100 Trying, 180 Ringing: under way
        finish(status < 300 ? { ok: true } : failed(`the transfer target answered ${status}`, status));
      };
      const sent = this.dialog.refer(uri, (status) => {
        if (status === undefined) finish(failed('REFER got no answer', 408));
        else if (status >= 300) finish(failed(`REFER refused with ${status}`, status));
      });
      if (!sent) finish(failed('the call is not answered'));
    });
  }

  /** A B2BUA transfer: the second leg's INVITE carries the context id as a header of its own. */
  private async bridge(target: TransferTarget, uri: string, contextId: string | undefined): Promise<LegResult> {
    if (!this.dialog.bridge) return failed('this call cannot start a second leg');
    this.transferring = true;
    try {
      const r = await this.dialog.bridge(uri, contextId ? [{ name: 'X-Context-Id', value: contextId }] : []);
      this.log.info({ target: target.name, ok: r.ok, ...(r.ok ? {} : r.detail) }, 'SIP transfer (B2BUA) finished');
      return r;
    } finally {
      this.transferring = false;
    }
  }

  sendDigits(digits: string): Promise<LegResult> {
    const media = this.media();
    if (!media) return Promise.resolve({ ok: false, message: 'the call has no media yet' });
    const keys = digits.replace(/[wW]/g, '');
    if (media.hasTelephoneEvent && keys.length > 0 && media.sendEventDigits(keys)) return Promise.resolve({ ok: true });
    try {
      media.sendToneDigits(digits);
      return Promise.resolve({ ok: true });
    } catch (err) {
      return Promise.resolve({ ok: false, message: (err as Error).message });
    }
  }

  mediaRestartMs(): number {
    return 0;
  }

  mediaAttached(): void {}
}
