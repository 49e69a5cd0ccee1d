import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { decodeMulaw, encodeMulaw } from '../../audio/index.js';
import { isBase64 } from '../../twilio/messages.js';
import { signTwilioRequest } from '../../twilio/signature.js';
import { StreamPlayback } from './playback.js';
import type { StreamStats } from './types.js';

/**
 * Twilio's side of one `<Connect><Stream>`: opens the signed socket, sends `connected`, `start`,
 * 20 ms `media`, `dtmf` and `stop`, and plays what the bridge sends through a StreamPlayback.
 * Every bridge message is checked the way Twilio checks it: anything but the three outbound
 * messages with exactly their fields and the right streamSid is a 31951 warning and is dropped.
 */

export interface StreamHooks {
  now(): number;
  violation(what: string): void;
  note(who: 'bridge' | 'twilio', what: string): void;
  /** the socket is open and `start` was sent */
  started(stream: MediaStream): void;
  /** the stream is over (for any reason); fires once */
  ended(stream: MediaStream): void;
  /** every sample of bridge audio as it arrives (before playout), in order */
  received?(pcm: Int16Array): void;
}

export interface MediaStreamInit {
  /** the `<Stream url>` as written in the TwiML (signed as-is, without query) */
  publicUrl: string;
  /** where to really connect */
  connectUrl: string;
  authToken: string;
  accountSid: string;
  callSid: string;
  customParameters: Record<string, string>;
}

export function newSid(prefix: 'CA' | 'MZ'): string {
  return prefix + randomBytes(16).toString('hex');
}

const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Messages the bridge sent before it could have read our `stop` are a race, not a bug. The bound
 * is generous because tests run the bridge in this process: a saturated event loop (a fuzz test
 * beside other work, load ~11 on 2 cores) delayed both sides by over a second. It is a hang-style
 * bound, not a timing check: a bridge that keeps streaming to a stopped stream goes on far longer
 * and is still caught.
 */
const STOP_GRACE_MS = 5000;

export class MediaStream {
  readonly streamSid = newSid('MZ');
  readonly stats: StreamStats;
  readonly playback = new StreamPlayback();
  private ws: WebSocket | undefined;
  private seq = 0;
  private chunk = 0;
  private isOpen = false;
  private stopped = false;
  private finished = false;
  private readonly mu = new Uint8Array(160);
  private stoppedAt = 0;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly init: MediaStreamInit,
    private readonly hooks: StreamHooks,
  ) {
    this.stats = {
      streamSid: this.streamSid,
      startedAtMs: hooks.now(),
      customParameters: { ...init.customParameters },
      marksEchoed: 0,
      clears: 0,
      mediaMessages: 0,
      mediaSent: 0,
      dtmfSent: 0,
      clearedMs: 0,
    };
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  get active(): boolean {
    return this.isOpen && !this.stopped;
  }

  connect(): void {
    const signed = this.init.publicUrl.split('?')[0]!;
    const ws = new WebSocket(this.init.connectUrl.split('?')[0]!, {
      headers: { 'X-Twilio-Signature': signTwilioRequest(this.init.authToken, signed, {}) },
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
      maxPayload: 1024 * 1024,
    });
    this.ws = ws;
    ws.on('unexpected-response', (_req, res) => {
      this.hooks.violation(`stream connect refused: HTTP ${res.statusCode} (signed URL ${signed})`);
      res.resume();
      this.finish('connect-failed');
      ws.terminate();
    });
    ws.on('error', (err) => {
      if (!this.isOpen && !this.finished) {
        this.hooks.violation(`stream connect failed: ${err.message}`);
        this.finish('connect-failed');
      }
    });
    ws.on('open', () => {
      this.isOpen = true;
      this.stats.startedAtMs = this.hooks.now();
      this.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
      this.send(
        JSON.stringify({
          event: 'start',
          sequenceNumber: String(++this.seq),
          streamSid: this.streamSid,
          start: {
            accountSid: this.init.accountSid,
            streamSid: this.streamSid,
            callSid: this.init.callSid,
            tracks: ['inbound'],
            mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
            customParameters: this.init.customParameters,
          },
        }),
      );
      this.hooks.started(this);
    });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', () => {
      this.isOpen = false;
      this.resolveClosed();
      if (!this.stopped) this.finish('bridge-close');
    });
  }

  /** One 20 ms frame of caller audio (160 samples). */
  sendAudio(frame: Int16Array): void {
    if (!this.active) return;
    encodeMulaw(frame, this.mu);
    this.chunk++;
    this.stats.mediaSent++;
    this.send(
      `{"event":"media","sequenceNumber":"${++this.seq}","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"${this.chunk}","timestamp":"${this.chunk * 20}","payload":"${Buffer.from(this.mu.buffer, this.mu.byteOffset, this.mu.length).toString('base64')}"}}`,
    );
  }

  sendDtmf(digit: string): void {
    if (!this.active) return;
    this.stats.dtmfSent++;
    this.send(
      JSON.stringify({
        event: 'dtmf',
        sequenceNumber: String(++this.seq),
        streamSid: this.streamSid,
        dtmf: { track: 'inbound_track', digit },
      }),
    );
  }

  /** Plays one frame of bridge audio into dst and echoes the marks it reaches. */
  play(dst: Int16Array): number {
    return this.playback.tick(dst, (name) => this.echoMark(name, 'played'));
  }

  /** Twilio ends the stream (hang-up or REST update): `stop`, then close. */
  stop(): void {
    if (this.stopped || this.finished) return;
    if (this.isOpen) {
      this.send(
        JSON.stringify({
          event: 'stop',
          sequenceNumber: String(++this.seq),
          streamSid: this.streamSid,
          stop: { accountSid: this.init.accountSid, callSid: this.init.callSid },
        }),
      );
    }
    this.stopped = true;
    this.stoppedAt = this.hooks.now();
    this.finish('stop');
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      ws.close(1000);
      // A peer that never answers the close handshake must not keep the call alive.
      setTimeout(() => ws.terminate(), 1000).unref();
    } else {
      this.resolveClosed();
    }
  }

  private finish(by: NonNullable<StreamStats['endedBy']>): void {
    if (this.finished) return;
    this.finished = true;
    this.stats.endedAtMs = this.hooks.now();
    this.stats.endedBy = by;
    const left = this.playback.bufferedSamples;
    if (left > 0 && by === 'bridge-close')
      this.hooks.note('twilio', `stream closed with ${Math.round(left / 8)} ms of audio unplayed`);
    if (by === 'connect-failed') this.resolveClosed();
    this.hooks.ended(this);
  }

  private send(text: string): void {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  private echoMark(name: string, how: 'played' | 'discarded' | 'immediate'): void {
    this.stats.marksEchoed++;
    // Bridges mark every chunk; the timeline shows the mark that ends an utterance (buffer
    // drained), immediate and discarded ones. The stats count them all.
    if (how !== 'played' || this.playback.bufferedSamples === 0) this.hooks.note('bridge', `mark ${name} ${how}`);
    this.send(
      JSON.stringify({ event: 'mark', sequenceNumber: String(++this.seq), streamSid: this.streamSid, mark: { name } }),
    );
  }

  private reject(what: string): void {
    this.hooks.violation(`31951 ${what}`);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.stopped) {
      // Messages already in flight when `stop` went out are a race, not a bridge bug.
      if (this.hooks.now() - this.stoppedAt > STOP_GRACE_MS) this.reject('message after stop');
      return;
    }
    if (isBinary) return this.reject('binary frame (only JSON text frames are allowed)');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return this.reject('invalid JSON');
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg))
      return this.reject('message is not a JSON object');
    const m = msg as Record<string, unknown>;
    const event = m.event;
    if (event !== 'media' && event !== 'mark' && event !== 'clear')
      return this.reject(`unknown outbound event ${JSON.stringify(event)?.slice(0, 40)}`);
    if (m.streamSid !== this.streamSid)
      return this.reject(`${event}: wrong streamSid ${JSON.stringify(m.streamSid)?.slice(0, 40)}`);
    const body = event === 'clear' ? undefined : event;
    const extra = extraKeys(m, body ? ['event', 'streamSid', body] : ['event', 'streamSid']);
    if (extra) return this.reject(`${event}: unexpected field ${extra}`);
    if (event === 'clear') return this.onClear();
    const inner = m[event];
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner))
      return this.reject(`${event}: missing ${event} object`);
    const innerObj = inner as Record<string, unknown>;
    const innerKey = event === 'media' ? 'payload' : 'name';
    const innerExtra = extraKeys(innerObj, [innerKey]);
    if (innerExtra) return this.reject(`${event}: unexpected field ${event}.${innerExtra}`);
    const value = innerObj[innerKey];
    if (typeof value !== 'string') return this.reject(`${event}: ${event}.${innerKey} must be a string`);
    if (event === 'mark') {
      if (this.playback.mark(value)) this.echoMark(value, 'immediate');
      return;
    }
    if (value.length === 0 || !isBase64(value)) return this.reject('media: payload is not valid base64');
    const bytes = Buffer.from(value, 'base64');
    this.stats.mediaMessages++;
    const pcm = decodeMulaw(bytes);
    this.hooks.received?.(pcm);
    this.playback.push(pcm);
  }

  private onClear(): void {
    const { droppedSamples, marks } = this.playback.clear();
    this.stats.clears++;
    this.stats.clearedMs += droppedSamples / 8;
    this.hooks.note('bridge', `clear (dropped ${Math.round(droppedSamples / 8)} ms)`);
    for (const name of marks) this.echoMark(name, 'discarded');
  }
}

/** The first key of `obj` not in `allowed`, or undefined. */
function extraKeys(obj: Record<string, unknown>, allowed: string[]): string | undefined {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) return k.slice(0, 40);
  return undefined;
}
