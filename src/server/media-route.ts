import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { CallSession, MediaStreamHandle } from '../call/session.js';
import type { HeldSocket } from '../net/write-coalescer.js';
import { MediaScanner } from '../twilio/media-scan.js';
import { decodeCheckedPayload, parseTwilioMessage, type TwilioInbound } from '../twilio/messages.js';
import type { BridgeContext } from './context.js';
import { twilioUpgradeGuard } from './signatures.js';

/** The largest Media Streams message we accept: real ones are ~300 bytes; 64 KB is generous. */
export const MAX_MEDIA_MESSAGE_BYTES = 64 * 1024;

/** Twilio takes JSON in text frames, whether the bridge built it as a string or as bytes. */
const TEXT = { binary: false } as const;

/**
 * The Media Streams socket. The upgrade is signature-checked before any session exists; then
 * each text message is parsed once into a typed message and routed to the call's session. A
 * malformed, unknown or out-of-place message is counted and logged — never fatal, and never
 * able to touch another call.
 */
export function registerMediaRoute(app: FastifyInstance, ctx: BridgeContext): void {
  const holdMeter = ctx.metrics.writeHold.labels('to_twilio');
  app.get('/twilio/media', { websocket: true, preValidation: twilioUpgradeGuard(ctx) }, (socket: WebSocket, req) => {
    // The upgrade request's socket is the one ws now speaks on: shared reads, coalesced writes.
    new MediaConnection(socket, ctx, ctx.sockets.apply(req.raw.socket, socket, holdMeter));
  });
}

class MediaConnection implements MediaStreamHandle {
  streamSid = '';
  private session: CallSession | undefined;
  /** the caller-audio fast path, once the stream is known (media-scan.ts) */
  private scanner: MediaScanner | undefined;
  private stopped = false;
  private readonly log;

  constructor(private readonly ws: WebSocket, private readonly ctx: BridgeContext, private readonly held?: HeldSocket) {
    this.log = ctx.logger.child({ conn: 'media' });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => this.onClose());
    ws.on('error', (err) => {
      // ws has just written its close frame (1009, 1002…): out now, not at the end of the batch.
      this.held?.release();
      // ws closes the socket itself (1009) on a frame over maxPayload: still a counted rejection.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return this.reject('oversize');
      this.log.warn({ err: err.message }, 'media socket error');
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

  private reject(reason: string, detail?: object): void {
    this.ctx.metrics.rejected.inc({ source: 'twilio', reason: reason.split(':')[0]!.slice(0, 40) });
    (this.session?.log ?? this.log).warn({ reason, streamSid: this.streamSid || undefined, ...detail }, 'twilio message rejected');
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) return this.reject('binary_frame');
    if (this.stopped) return this.reject('after_stop');
    if (this.scanner) {
      const media = this.scanner.scan(data);
      if (media) return this.session!.onMedia(media.bytes, media.timestampMs);
    }
    const parsed = parseTwilioMessage(data.toString('utf8'));
    if (!parsed.ok) return this.reject(parsed.reason);
    const msg = parsed.msg;
    if (msg.event === 'connected') return;
    if (msg.event === 'start') return this.onStart(msg);
    if (!this.session) return this.reject('before_start', { event: msg.event });
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
        this.session.onStreamEnded(this, 'stop');
        this.close();
        return;
    }
  }

  private onStart(msg: Extract<TwilioInbound, { event: 'start' }>): void {
    if (this.session) return this.reject('duplicate_start');
    const start = msg.start;
    this.streamSid = start.streamSid;
    const enc = start.mediaFormat?.encoding;
    if (enc && enc !== 'audio/x-mulaw') {
      this.reject('unsupported_encoding', { encoding: enc });
      return this.close();
    }
    const session = this.ctx.attachStream(start.callSid, start.customParameters ?? {}, this);
    if (!session) return this.close();
    this.session = session;
    this.scanner = new MediaScanner(this.streamSid);
  }

  private onClose(): void {
    if (this.session && !this.stopped) this.session.onStreamEnded(this, 'socket_closed');
    this.stopped = true;
  }
}
