/**
 * One Omni session over one WebSocket (§1, §3 of the protocol). Single-use: connect once, end once.
 * Reconnection is the owner's decision (see close-policy.ts); this class only guarantees that a
 * session starts cleanly, that nothing it receives can throw into the socket, and that it leaves no
 * timer or socket behind.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { Logger } from '../observability/logger.js';
import {
  type ClientFrame,
  type ConfigurePayload,
  configureFrame,
  dtmfFrame,
  sessionEndingFrame,
  toolResultFrame,
} from './client-frames.js';
import type { OmniEvent } from './events.js';
import { AudioReassembler, PcmScratch, decodeServerMessage, encodeAudioFrame, encodeControl } from './framing.js';
import { OmniConnectError, connectFailureCode } from './connect-error.js';
import { buildOmniUrl, type OmniRate, redactUrl } from './url.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { HeldSocket, HoldMeter } from '../net/write-coalescer.js';

export { OmniConnectError, connectFailureCode, type OmniConnectFailure } from './connect-error.js';

export interface OmniClientOptions {
  baseUrl: string;
  apiKey?: string;
  rate: OmniRate;
  sessionLabel?: string;
  configure: ConfigurePayload;
  /** Until the socket is open and configure sent. Default 5000. */
  connectTimeoutMs?: number;
  /** How long end() waits for the server's closing handshake before dropping the socket. Default 2000. */
  closeTimeoutMs?: number;
  /** Audio is refused (sendAudio → false) while more than this is queued in the socket. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** shared reads and write coalescing for this session's socket (src/net/socket-tuning.ts) */
  sockets?: SocketTuning;
  /** where each flush of this session's socket reports its oldest held message's wait */
  holdMeter?: HoldMeter;
  /**
   * Agent audio, at the current output rate. A direct callback rather than an event: it runs 50
   * times a second per call, and the view may point into the message buffer (copy to keep it).
   */
  onAudio?: (pcm: Int16Array, rate: number) => void;
  logger: Logger;
}

export interface OmniClientEvents {
  ready: [];
  event: [ev: OmniEvent];
  close: [code: number, reason: string];
  rejected: [reason: string];
}

export interface OmniClientStats {
  framesSent: number;
  framesReceived: number;
  eventsReceived: number;
  /** Messages dropped as garbage (unknown tag, invalid JSON, invalid event). */
  rejected: number;
  /** Audio frames refused because the socket's send queue was over `maxBufferedBytes`. */
  audioRefused: number;
}

// RFC 7230 token characters: anything else cannot travel in Sec-WebSocket-Protocol.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const MAX_PAYLOAD = 4 * 1024 * 1024;

type State = 'idle' | 'connecting' | 'open' | 'closing' | 'closed';

interface PendingConnect {
  resolve: () => void;
  reject: (err: OmniConnectError) => void;
  timer: NodeJS.Timeout;
  configure: Buffer;
}

export class OmniClient extends EventEmitter<OmniClientEvents> {
  readonly stats: Readonly<OmniClientStats>;
  /**
   * Agent audio that arrives misaligned is copied here (onAudio's view is only valid during the
   * call). Sized by the frames that come (960 bytes for 20 ms at 24 kHz), at most 100 ms at 48 kHz.
   */
  private readonly pcmScratch = new PcmScratch(4800);
  /** agent audio split inside a sample is joined here (a byte is never dropped) */
  private readonly audio = new AudioReassembler();
  private readonly counters: OmniClientStats = {
    framesSent: 0,
    framesReceived: 0,
    eventsReceived: 0,
    rejected: 0,
    audioRefused: 0,
  };
  private readonly log: Logger;
  private state: State = 'idle';
  private ws: WebSocket | undefined;
  private rate: number;
  private readySeen = false;
  private endRequested = false;
  private serverEnded = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private engineCallIdValue: string | undefined;
  private closeEmitted = false;
  private pendingConnect: PendingConnect | undefined;
  /** the socket's place in the write coalescer, once upgraded (when one is configured) */
  private held: HeldSocket | undefined;

  constructor(private readonly opts: OmniClientOptions) {
    super();
    this.stats = this.counters;
    this.rate = opts.rate;
    this.log = opts.logger;
  }

  /** Current rate of the agent audio: `audio_out` once announced, the input rate until then. */
  get outputRate(): number {
    return this.rate;
  }
  get isOpen(): boolean {
    return this.state === 'open';
  }
  get bufferedAmount(): number {
    return this.ws?.bufferedAmount ?? 0;
  }
  /** The engine's call id from hello/session_started, for correlating logs. */
  get engineCallId(): string | undefined {
    return this.engineCallIdValue;
  }
  /** True once the server said `session_end`: a close that follows is the engine's normal end. */
  get sessionEndReceived(): boolean {
    return this.serverEnded;
  }

  /**
   * Opens the socket and sends the one complete `configure`; resolves once both are done. On
   * failure it rejects with an OmniConnectError *and* emits `close` (code from connectFailureCode()), so
   * an owner that reconnects on `close` handles a failed connect like a dropped session.
   */
  connect(): Promise<void> {
    if (this.state !== 'idle' || this.endRequested) {
      return Promise.reject(
        new OmniConnectError('OmniClient is single-use: connect() after connect() or end()', 'config', false),
      );
    }
    this.state = 'connecting';
    let configure: Buffer;
    let url: string;
    const key = this.opts.apiKey;
    try {
      configure = encodeControl(configureFrame(this.opts.configure));
      url = buildOmniUrl(this.opts.baseUrl, this.opts.rate, this.opts.sessionLabel);
      if (key !== undefined && !TOKEN.test(key)) {
        throw new Error('API key contains characters that cannot travel in a WebSocket subprotocol');
      }
    } catch (err) {
      const error = new OmniConnectError(
        this.scrub(`Omni client misconfigured: ${(err as Error).message}`),
        'config',
        false,
      );
      this.state = 'closed';
      this.emitClose(1008, error.message);
      return Promise.reject(error);
    }
    const timeoutMs = this.opts.connectTimeoutMs ?? 5000;
    this.log.debug({ url: redactUrl(url), rate: this.opts.rate }, 'omni connecting');
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.failConnect(new OmniConnectError(`Omni connect timed out after ${timeoutMs} ms`, 'timeout', true));
      }, timeoutMs);
      this.pendingConnect = { resolve, reject, timer, configure };
      try {
        this.ws = new WebSocket(url, key === undefined ? [] : [`pyai-key.${key}`], {
          perMessageDeflate: false,
          maxPayload: MAX_PAYLOAD,
          handshakeTimeout: timeoutMs,
        });
      } catch (err) {
        this.failConnect(
          new OmniConnectError(this.scrub(`Omni connect failed: ${(err as Error).message}`), 'config', false),
        );
        return;
      }
      this.wire(this.ws);
    });
  }

  private wire(ws: WebSocket): void {
    ws.binaryType = 'nodebuffer';
    ws.on('message', this.onMessage);
    // The upgrade response carries the socket ws goes on to use: the public way to reach it.
    const sockets = this.opts.sockets;
    if (sockets) ws.once('upgrade', (res) => (this.held = sockets.apply(res.socket, ws, this.opts.holdMeter)));
    ws.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      const retryable = status === 408 || status === 429 || status >= 500;
      this.failConnect(new OmniConnectError(`Omni refused the upgrade: HTTP ${status}`, 'http', retryable, status));
    });
    ws.on('error', (err) => {
      const message = this.scrub(err.message);
      if (this.pendingConnect)
        this.failConnect(new OmniConnectError(`Omni connect failed: ${message}`, 'network', true));
      else if (this.state === 'open') this.log.warn({ err: message }, 'omni socket error');
      else this.log.debug({ err: message }, 'omni socket error while closing');
    });
    ws.on('open', () => {
      const pending = this.pendingConnect;
      if (!pending) return;
      this.pendingConnect = undefined;
      clearTimeout(pending.timer);
      this.state = 'open';
      // Exactly one complete configure, before anything else can be sent (audio included).
      this.sendRaw(pending.configure);
      pending.resolve();
    });
    ws.on('close', (code, reasonBuf) => {
      clearTimeout(this.closeTimer);
      this.closeTimer = undefined;
      ws.removeAllListeners('message');
      if (this.pendingConnect) {
        const fatal = code === 1008 || code === 4401 || code === 4403;
        this.failConnect(
          new OmniConnectError(`Omni closed the connection before it opened (${code})`, 'closed', !fatal),
          code,
        );
      }
      this.state = 'closed';
      // After our own end() a missing closing handshake is still our normal end, not a drop to retry.
      if (this.endRequested && code === 1006) this.emitClose(1000, 'ended by client');
      else this.emitClose(code, reasonBuf.toString('utf8'));
    });
  }

  /** Settles a pending connect as failed, drops the socket, and reports the matching close. */
  private failConnect(err: OmniConnectError, closeCode?: number): void {
    const pending = this.pendingConnect;
    if (!pending) return;
    this.pendingConnect = undefined;
    clearTimeout(pending.timer);
    this.state = 'closed';
    this.ws?.terminate();
    pending.reject(err);
    this.emitClose(closeCode ?? connectFailureCode(err), err.message);
  }

  private emitClose(code: number, reason: string): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.safeEmit('close', code, reason);
  }

  /** Sends one caller audio frame. False when not open or the socket is backed up; never throws. */
  sendAudio(pcm: Int16Array): boolean {
    if (this.state !== 'open' || this.ws === undefined) return false;
    if (this.ws.bufferedAmount > (this.opts.maxBufferedBytes ?? 1024 * 1024)) {
      this.counters.audioRefused++;
      return false;
    }
    return this.sendRaw(encodeAudioFrame(pcm));
  }

  /** Forwards one DTMF key (`0-9 * # A-D`). False for anything else or when not open. */
  sendDtmf(digit: string): boolean {
    let frame: ClientFrame;
    try {
      frame = dtmfFrame(digit);
    } catch {
      this.log.warn({ digit: String(digit).slice(0, 4) }, 'omni: refusing to send an invalid DTMF digit');
      return false;
    }
    return this.sendControl(frame);
  }

  /** Answers a tool_call (or a verb with a call_id). An unserialisable output becomes a structured error. */
  sendToolResult(callId: string, name: string, output: unknown): boolean {
    if (this.state !== 'open') return false;
    let frame: ClientFrame;
    try {
      frame = toolResultFrame(callId, name, output);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'omni: invalid tool_result not sent');
      return false;
    }
    let bytes: Buffer;
    try {
      bytes = encodeControl(frame);
    } catch {
      // Cycles and BigInts cannot be JSON: the engine still gets an answer for this call_id.
      bytes = encodeControl(toolResultFrame(callId, name, { error: 'tool_failed: output is not serializable' }));
    }
    return this.sendRaw(bytes);
  }

  /**
   * Sends `session_ending` and closes with 1000; drops the socket if the server has not completed
   * the close within `closeTimeoutMs`. Idempotent; also aborts a connect in progress.
   */
  end(): void {
    if (this.endRequested) return;
    this.endRequested = true;
    if (this.state === 'connecting') {
      this.failConnect(new OmniConnectError('Omni connect aborted by end()', 'aborted', false));
      return;
    }
    if (this.state !== 'open' || this.ws === undefined) return;
    this.sendControl(sessionEndingFrame());
    this.state = 'closing';
    const ws = this.ws;
    ws.close(1000, 'session ending');
    this.closeTimer = setTimeout(() => ws.terminate(), this.opts.closeTimeoutMs ?? 2000);
  }

  private sendControl(frame: ClientFrame): boolean {
    if (this.state !== 'open') return false;
    return this.sendRaw(encodeControl(frame));
  }

  private sendRaw(frame: Buffer): boolean {
    try {
      this.held?.hold();
      this.ws!.send(frame);
      this.counters.framesSent++;
      return true;
    } catch (err) {
      this.log.warn({ err: this.scrub((err as Error).message) }, 'omni send failed');
      return false;
    }
  }

  /** Defined once as a property: the hot receive path allocates no closure per message. */
  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    this.counters.framesReceived++;
    const msg = decodeServerMessage(buf, isBinary, this.pcmScratch, this.audio);
    if (msg.kind === 'audio') {
      const onAudio = this.opts.onAudio;
      if (onAudio && msg.pcm.length > 0) {
        try {
          onAudio(msg.pcm, this.rate);
        } catch (err) {
          this.listenerThrew('audio', err);
        }
      }
    } else if (msg.kind === 'event') {
      this.counters.eventsReceived++;
      this.onEvent(msg.event);
    } else {
      this.reject(msg.reason);
    }
  };

  private onEvent(ev: OmniEvent): void {
    if (ev.type === 'hello' || ev.type === 'session_started' || ev.type === 'configured') {
      if (ev.audioOutRate !== undefined && ev.audioOutRate !== this.rate) {
        this.log.info({ from: this.rate, to: ev.audioOutRate, via: ev.type }, 'omni output rate set');
        this.rate = ev.audioOutRate;
      }
      if (ev.type !== 'configured' && ev.callId) this.engineCallIdValue ??= ev.callId;
      if (!this.readySeen) {
        this.readySeen = true;
        this.safeEmit('ready');
      }
    } else if (ev.type === 'session_end') {
      this.serverEnded = true;
    } else if (ev.type === 'barge_in') {
      // The engine drops the rest of its reply: a byte left of it belongs to no later sample.
      this.audio.reset();
    }
    this.safeEmit('event', ev);
  }

  /** Counted and reported to the owner (who logs and meters it); debug here to avoid double logging. */
  private reject(reason: string): void {
    this.counters.rejected++;
    this.log.debug({ reason }, 'omni message rejected');
    this.safeEmit('rejected', reason);
  }

  /** A throwing listener must not unwind into ws's receive loop (it would kill the socket). */
  private safeEmit<K extends keyof OmniClientEvents>(name: K, ...args: OmniClientEvents[K]): void {
    try {
      (this.emit as (n: K, ...a: OmniClientEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.listenerThrew(name, err);
    }
  }

  private listenerThrew(listener: string, err: unknown): void {
    this.log.error({ err: this.scrub(String((err as Error)?.message ?? err)), listener }, 'omni listener threw');
  }

  private scrub(message: string): string {
    const key = this.opts.apiKey;
    return key && key.length > 0 ? message.split(key).join('[redacted]') : message;
  }
}
