import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { CallSession } from '../../call/session.js';
import type { HeldSocket } from '../../net/write-coalescer.js';
import { MediaScanner } from '../../twilio/media-scan.js';
import { TwilioMediaOut, type TextSocket } from '../../twilio/media-out.js';
import { decodeCheckedPayload, parseTwilioMessage, type TwilioInbound } from '../../twilio/messages.js';
import type { BridgeContext } from '../context.js';
import type { AttachResult } from '../calls/registry.js';
import { twilioUpgradeGuard } from '../security/signatures.js';
import { BudgetClock, capped, RejectionLog, type Budgeted, type MediaLimits } from '../security/stream-guard.js';

/** The largest Media Streams message we accept: real ones are ~300 bytes; 64 KB is generous. */
export const MAX_MEDIA_MESSAGE_BYTES = 64 * 1024;

/** Twilio takes JSON in text frames, whether the bridge built it as a string or as bytes. */
const TEXT = { binary: false } as const;

/** WebSocket close code for a socket the bridge refuses (RFC 6455: policy violation). */
export const CLOSE_REFUSED = 1008;
/** A socket whose close handshake is not answered this long after a refusal is cut. */
const TERMINATE_AFTER_MS = 2000;
/** While the busy message goes out by REST, a refused stream is held (Twilio then stops it). */
const BUSY_HOLD_MS = 10_000;
/** messages held while a fleet store answers a `start` (Twilio sends 50 a second) */
const MAX_PENDING_START = 500;

/**
 * The Media Streams socket. The upgrade is signature-checked before any session exists — but
 * that signature is the same for every call, so the `start` must also carry the call's stream
 * token (stream-token.ts), verified for its CallSid and used once, before the socket reaches a
 * session. Then each text message is parsed once into a typed message and routed to the call's
 * session. A malformed, unknown or out-of-place message is counted and logged (rate-limited) —
 * never fatal, and never able to touch another call; a socket over its message budget is
 * throttled, then closed (stream-guard.ts).
 */
export function registerMediaRoute(app: FastifyInstance, ctx: BridgeContext): void {
  const holdMeter = ctx.metrics.writeHold.labels('to_twilio');
  const clock = new BudgetClock(ctx.settings.media_stream);
  app.addHook('onClose', async () => clock.stop());
  app.get('/twilio/media', { websocket: true, preValidation: twilioUpgradeGuard(ctx) }, (socket: WebSocket, req) => {
    // The upgrade request's socket is the one ws now speaks on: shared reads, coalesced writes.
    new MediaConnection(socket, ctx, clock, ctx.sockets.apply(req.raw.socket, socket, holdMeter));
  });
}

class MediaConnection implements TextSocket, Budgeted {
  streamSid = '';
  private session: CallSession | undefined;
  /** the stream's caller-bound side, once `start` named it: what the session writes to */
  private media: TwilioMediaOut | undefined;
  /** the caller-audio fast path, once the stream is known (media-scan.ts) */
  private scanner: MediaScanner | undefined;
  private stopped = false;
  /** refused or closed by the bridge: whatever still arrives is dropped unread */
  private shut = false;
  private startTimer: NodeJS.Timeout | undefined;
  private busyTimer: NodeJS.Timeout | undefined;
  private terminateTimer: NodeJS.Timeout | undefined;
  private readonly log;
  private readonly limits: MediaLimits;
  private readonly rejections: RejectionLog;
  // The token bucket (stream-guard.ts): checked per message, refilled by the clock.
  msgBudget: number;
  byteBudget: number;
  private paused = false;
  /** messages that arrive while the fleet store decides where this stream goes (bounded; replayed in order) */
  private pendingStart: [Buffer, boolean][] | undefined;
  /** when the socket went over its budget and has not recovered since (0: it is within it) */
  private overSince = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: BridgeContext,
    private readonly clock: BudgetClock,
    private readonly held?: HeldSocket,
  ) {
    this.log = ctx.logger.child({ conn: 'media' });
    this.limits = ctx.settings.media_stream;
    this.msgBudget = this.limits.burst_messages;
    this.byteBudget = this.limits.burst_bytes;
    this.rejections = new RejectionLog(() => this.session?.log ?? this.log);
    clock.add(this);
    // A socket that never says who it is holds a file descriptor and a slot for nothing.
    this.startTimer = setTimeout(() => this.refuse('start_timeout'), this.limits.start_timeout_ms);
    this.startTimer.unref();
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    // Control frames cost a parse and a pong like any message: the same budget pays for them. ws
    // parses them on both receive paths (the fast path takes only data frames: ws-fast-receive.ts).
    ws.on('ping', (data) => this.onControl(data, true));
    ws.on('pong', (data) => this.onControl(data, false));
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => {
      // ws has just written its close frame (1009, 1002…): out now, not at the end of the batch.
      this.held?.release();
      // ws closes the socket itself (1009) on a frame over maxPayload: still a counted rejection.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return this.reject('oversize');
      this.rejections.warn(
        'socket_error',
        { err: err.message, streamSid: this.streamSid || undefined },
        'media socket error',
      );
    });
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(text: string | Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.held?.hold();
    this.ws.send(text, TEXT);
  }

  close(): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1000);
  }

  /** A malformed or out-of-place message: counted, logged (rate-limited), not fatal. */
  private reject(reason: string, detail?: Record<string, unknown>): void {
    const kind = reason.split(':')[0]!.slice(0, 40);
    this.ctx.metrics.rejected.inc({ source: 'twilio', reason: kind });
    this.rejections.warn(
      kind,
      { reason, streamSid: this.streamSid || undefined, ...detail },
      'twilio message rejected',
    );
  }

  /**
   * The socket is not let in (bad or missing token, a second stream for a live call, no `start`
   * in time, over its rate): counted by reason, one log line (never the token), closed.
   */
  private refuse(reason: string, detail?: Record<string, unknown>, holdMs = 0): void {
    if (this.shut) return;
    this.shut = true;
    this.clearStartTimer();
    this.ctx.metrics.streamsRefused.inc({ reason });
    this.rejections.warn(
      `refused:${reason}`,
      { reason, streamSid: this.streamSid || undefined, ...detail },
      'media stream refused',
    );
    if (holdMs > 0) {
      // The caller is about to hear the busy message: Twilio stops this stream when the REST
      // update lands; closing it first would run the TwiML after <Connect> (a hang-up) instead.
      this.busyTimer = setTimeout(() => this.closeRefused(), holdMs);
      this.busyTimer.unref();
      return;
    }
    this.closeRefused();
  }

  private closeRefused(): void {
    if (this.session && !this.stopped) {
      this.stopped = true;
      this.session.onStreamEnded(this.media!, 'socket_closed');
    }
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(CLOSE_REFUSED);
    // A peer that never answers the close handshake does not get to keep the socket.
    this.terminateTimer ??= setTimeout(() => this.ws.terminate(), TERMINATE_AFTER_MS);
    this.terminateTimer.unref();
  }

  private clearStartTimer(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    // The rate check: two subtractions and a compare, before anything else is spent.
    this.byteBudget -= data.length;
    if (--this.msgBudget < 0 || this.byteBudget < 0) this.overBudget();
    if (this.shut) return this.afterRefusal(data, isBinary);
    if (this.pendingStart) {
      if (this.pendingStart.length < MAX_PENDING_START) this.pendingStart.push([data, isBinary]);
      else this.reject('backlog_during_start');
      return;
    }
    this.dispatch(data, isBinary);
  }

  /**
   * A ping or pong: charged to the budget first. Twilio sends `connected` and `start` first, so a
   * ping before `start` is refused (1008, `ping_before_start`) and the socket's reads stop at once
   * (the rest of a flood waits in the kernel until the socket is cut). After `start` a ping gets
   * its pong only while the socket is within its budget.
   */
  private onControl(data: Buffer, ping: boolean): void {
    this.byteBudget -= data.length;
    if (--this.msgBudget < 0 || this.byteBudget < 0) this.overBudget();
    if (this.shut) return;
    if (!this.streamSid) {
      if (!ping) return;
      this.refuse('ping_before_start');
      return this.ws.pause();
    }
    if (!ping || this.paused || this.ws.readyState !== this.ws.OPEN) return;
    this.held?.hold();
    this.ws.pong(data);
  }

  private dispatch(data: Buffer, isBinary: boolean): void {
    if (this.shut) return;
    if (isBinary)
      return this.session ? this.reject('binary_frame') : this.refuse('not_start_first', { detail: 'binary_frame' });
    if (this.stopped) return this.reject('after_stop');
    if (this.scanner) {
      const media = this.scanner.scan(data);
      if (media) return this.session!.onMedia(media.bytes, media.timestampMs);
    }
    const parsed = parseTwilioMessage(data.toString('utf8'));
    if (!parsed.ok) {
      if (this.session) return this.reject(parsed.reason);
      return this.refuse(parsed.reason.startsWith('invalid_start') ? 'invalid_start' : 'not_start_first', {
        detail: parsed.reason,
      });
    }
    const msg = parsed.msg;
    if (msg.event === 'connected') return;
    if (msg.event === 'start') return this.onStart(msg);
    if (!this.session) return this.refuse('not_start_first', { detail: msg.event });
    if (msg.streamSid !== this.streamSid) return this.reject('wrong_stream_sid', { event: msg.event });
    switch (msg.event) {
      case 'media': {
        if (msg.media.track && msg.media.track !== 'inbound') return; // only the caller is bridged
        const bytes = decodeCheckedPayload(msg.media.payload);
        if (!bytes) return this.reject('bad_payload');
        const ts = Number(msg.media.timestamp);
        this.session.onMedia(bytes, Number.isFinite(ts) ? ts : undefined);
        return;
      }
      case 'dtmf':
        return this.session.onDtmf(msg.dtmf.digit);
      case 'mark':
        return this.session.onMark(msg.mark.name);
      case 'stop':
        this.stopped = true;
        this.session.onStreamEnded(this.media!, 'stop');
        this.close();
        return;
    }
  }

  /** A busy-held stream's `stop` ends it at once; anything else after a refusal is dropped unread. */
  private afterRefusal(data: Buffer, isBinary: boolean): void {
    if (this.busyTimer && !isBinary && data.includes('"stop"')) this.endBusyHold();
  }

  private endBusyHold(): void {
    if (this.busyTimer) clearTimeout(this.busyTimer);
    this.busyTimer = undefined;
    this.close();
  }

  private onStart(msg: Extract<TwilioInbound, { event: 'start' }>): void {
    if (this.session) return this.reject('duplicate_start');
    const start = msg.start;
    this.streamSid = start.streamSid;
    const callSid = capped(start.callSid);
    const enc = start.mediaFormat?.encoding;
    if (enc && enc !== 'audio/x-mulaw') return this.refuse('unsupported_encoding', { encoding: enc, callSid });
    // The stream's token, verified for this CallSid: the only thing in customParameters that is
    // read, and never logged. Agent, From and To come from inside it.
    const verified = this.ctx.streamTokens.verify(start.callSid, start.customParameters?.token);
    if (!verified.ok) return this.refuse(verified.reason, { callSid });
    if (!this.ctx.streamTokens.consume(verified.claims)) return this.refuse('token_replayed', { callSid });
    this.clearStartTimer();
    this.media = new TwilioMediaOut(start.streamSid, this);
    const r = this.ctx.attachStream(start.callSid, verified.claims, this.media);
    const purpose = verified.claims.purpose;
    if (!(r instanceof Promise)) return this.started(r, callSid, purpose);
    // A fleet decides in one store round trip (single use, capacity, a moved call's context):
    // what arrives meanwhile waits, in order, and is handled once the stream has its session.
    this.pendingStart = [];
    void r.then(
      (res) => this.started(res, callSid, purpose),
      () => this.started({ refused: 'store_error' }, callSid, purpose),
    );
  }

  private started(r: AttachResult, callSid: unknown, purpose: string): void {
    const queued = this.pendingStart ?? [];
    this.pendingStart = undefined;
    if ('refused' in r) {
      this.refuse(r.refused, { callSid, purpose }, r.busy ? BUSY_HOLD_MS : 0);
      // Twilio refused the update (the call is gone): nothing will stop this stream but us.
      void r.busy?.then((ok) => {
        if (ok || !this.busyTimer) return;
        clearTimeout(this.busyTimer);
        this.busyTimer = undefined;
        this.closeRefused();
      });
      return;
    }
    this.session = r.session;
    this.scanner = new MediaScanner(this.streamSid);
    // The socket closed while the store answered: the session hears of it now.
    if (this.stopped) return r.session.onStreamEnded(this.media!, 'socket_closed');
    for (const [data, isBinary] of queued) this.dispatch(data, isBinary);
  }

  /** Over the message or byte budget: pause reads until the clock refills the bucket. */
  private overBudget(): void {
    if (this.paused) return;
    this.paused = true;
    if (this.overSince === 0) this.overSince = Date.now();
    this.ctx.metrics.streamsThrottled.inc();
    this.rejections.warn(
      'throttled',
      { streamSid: this.streamSid || undefined, callSid: this.session?.callSid },
      'media socket over its message budget: reads paused',
    );
    this.ws.pause();
  }

  refill(msgs: number, bytes: number, now: number): void {
    const l = this.limits;
    if (this.msgBudget < l.burst_messages) this.msgBudget = Math.min(l.burst_messages, this.msgBudget + msgs);
    if (this.byteBudget < l.burst_bytes) this.byteBudget = Math.min(l.burst_bytes, this.byteBudget + bytes);
    if (this.overSince === 0 || this.shut) return;
    if (this.paused && this.msgBudget > 0 && this.byteBudget > 0) {
      this.paused = false;
      this.ws.resume();
    }
    // Recovered: back to half its burst (a real stream catching up after a network stall does).
    if (this.msgBudget >= l.burst_messages / 2 && this.byteBudget >= l.burst_bytes / 2) {
      this.overSince = 0;
    } else if (now - this.overSince > l.close_after_throttled_ms) {
      this.refuse('rate_exceeded', { callSid: this.session?.callSid });
    }
  }

  private onClose(): void {
    this.clearStartTimer();
    if (this.busyTimer) clearTimeout(this.busyTimer);
    if (this.terminateTimer) clearTimeout(this.terminateTimer);
    this.clock.delete(this);
    if (this.session && !this.stopped) this.session.onStreamEnded(this.media!, 'socket_closed');
    this.stopped = true;
    this.rejections.flush({ streamSid: this.streamSid || undefined });
  }
}
