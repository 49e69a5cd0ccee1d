/**
 * Hand-driven Twilio for the bridge's integration tests and benchmarks: a signed voice webhook
 * and a raw Media Streams socket that sends exactly what a test writes (good messages, hostile
 * ones, binary frames) and records everything the bridge sends back, with arrival times.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { decodeMulaw } from '../../src/audio/index.js';
import { mediaStreamUrl } from '../../src/twilio/stream-twiml.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import {
  mintStreamToken,
  readStreamToken,
  streamTokenSecret,
  type StreamPurpose,
} from '../../src/twilio/stream-token.js';

export type Json = Record<string, any>;

export function sid(prefix: 'CA' | 'MZ'): string {
  return prefix + randomBytes(16).toString('hex');
}

export interface TwilioTarget {
  /** where the bridge listens, e.g. http://127.0.0.1:4321 (also its PUBLIC_URL in tests) */
  bridgeUrl: string;
  authToken: string;
  accountSid: string;
  /** the bridge's STREAM_TOKEN_SECRET, when the test sets one (else derived from authToken, as the bridge does) */
  streamTokenSecret?: string;
}

/**
 * A stream token as the bridge mints it into its TwiML, with the test's secret: what a real
 * Twilio would carry from the webhook's `<Parameter name="token">` to `start.customParameters`.
 */
export function mintToken(
  t: TwilioTarget,
  callSid: string,
  c: { purpose?: StreamPurpose; agent?: string; from?: string; to?: string } = {},
  ttlMs = 60_000,
): string {
  return mintStreamToken(streamTokenSecret(t.streamTokenSecret, t.authToken)!, callSid, c, ttlMs);
}

/** A stream token's claims, opened with the secret the bridge derives from `authToken` (they are sealed). */
export function openToken(token: string, callSid: string, authToken = SIM_AUTH_TOKEN) {
  return readStreamToken(token, { secret: streamTokenSecret(undefined, authToken)!, callSid });
}

/** The token `<Parameter>` of a TwiML document (what Twilio would send back in `start`). */
export function tokenOf(twiml: string): string | undefined {
  return /<Parameter name="token" value="([A-Za-z0-9_-]+)"\/>/.exec(twiml)?.[1];
}

/** A signed `POST /twilio/voice` as Twilio sends it. `signature: null` sends none. */
export async function postVoice(
  t: TwilioTarget,
  p: { callSid: string; to?: string; from?: string; signature?: string | null; path?: string },
): Promise<{ status: number; body: string }> {
  const path = p.path ?? '/twilio/voice';
  const params: Record<string, string> = {
    AccountSid: t.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: p.callSid,
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: p.from ?? '+15557654321',
    To: p.to ?? '+15550001111',
  };
  const sig = p.signature === undefined ? signTwilioRequest(t.authToken, t.bridgeUrl + path, params) : p.signature;
  const res = await fetch(t.bridgeUrl + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(sig === null ? {} : { 'x-twilio-signature': sig }),
    },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: await res.text() };
}

/** The params Twilio sends with every request about a call (what a captured request holds). */
export function callParams(
  t: TwilioTarget,
  callSid: string,
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    AccountSid: t.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'in-progress',
    Direction: 'inbound',
    From: '+15557654321',
    To: '+15550001111',
    ...over,
  };
}

/**
 * A form POST signed as Twilio signs it, over `path` (with its query) under the bridge's URL:
 * a webhook as Twilio sent it, or as an attacker who captured it replays it byte for byte.
 */
export async function postSigned(
  t: TwilioTarget,
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const url = t.bridgeUrl + path;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilioRequest(t.authToken, url, params),
      ...headers,
    },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, body: await res.text() };
}

/** Outcome of an upgrade that the bridge refused (HTTP status), for the signature tests. */
export function tryUpgrade(t: TwilioTarget, signature: string | null): Promise<{ status: number } | { opened: true }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.bridgeUrl.replace(/^http/, 'ws') + '/twilio/media', {
      headers: signature === null ? {} : { 'X-Twilio-Signature': signature },
      handshakeTimeout: 10_000, // a hang guard: a loaded machine (and the flood tests in this process) may take seconds
    });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on('open', () => {
      resolve({ opened: true });
      ws.close();
    });
    ws.on('error', (err) => reject(err));
  });
}

export interface Received {
  at: number;
  msg: Json;
}

/**
 * One raw Media Streams socket, signed like Twilio signs it. It keeps Twilio's counters
 * (`sequenceNumber`, `chunk`, `timestamp` as strings) for the messages it builds; `text()` and
 * `binary()` send anything at all.
 */
export class RawStream {
  readonly received: Received[] = [];
  readonly closed: Promise<number>;
  streamSid = sid('MZ');
  callSid = '';
  startedAt = 0;
  private seq = 0;
  private chunk = 0;
  private waiters: { pred: (m: Json) => boolean; resolve: (r: Received) => void }[] = [];
  /** echo each mark at once, as Twilio does when its buffer is empty (the bridge then sees "played") */
  echoMarks = false;

  private constructor(
    readonly ws: WebSocket,
    readonly target: TwilioTarget,
  ) {
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {
      /* a close follows; tests look at `closed` */
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const r: Received = {
        at: performance.now(),
        msg: isBinary ? { binary: true } : (JSON.parse(String(data)) as Json),
      };
      this.received.push(r);
      if (this.echoMarks && r.msg.event === 'mark') this.mark(String(r.msg.mark.name));
      for (const w of [...this.waiters]) {
        if (w.pred(r.msg)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(r);
        }
      }
    });
  }

  static open(t: TwilioTarget, opts: { maxPayload?: number } = {}): Promise<RawStream> {
    const signature = signTwilioRequest(t.authToken, mediaStreamUrl(t.bridgeUrl), {});
    const ws = new WebSocket(t.bridgeUrl.replace(/^http/, 'ws') + '/twilio/media', {
      headers: { 'X-Twilio-Signature': signature },
      perMessageDeflate: false,
      handshakeTimeout: 3000,
      maxPayload: opts.maxPayload ?? 1024 * 1024,
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawStream(ws, t)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  text(s: string): void {
    if (this.isOpen) this.ws.send(s);
  }

  binary(b: Buffer): void {
    if (this.isOpen) this.ws.send(b, { binary: true });
  }

  json(obj: Json): void {
    this.text(JSON.stringify(obj));
  }

  /**
   * `connected` + `start` for `callSid`, as Twilio sends it after the bridge's TwiML: the only
   * custom parameter is a stream token minted for this call with `claims` (agent, from, to,
   * purpose). `start` overrides fields of the start body.
   */
  start(
    callSid: string,
    claims: { agent?: string; from?: string; to?: string; purpose?: StreamPurpose } = {},
    start: Json = {},
  ): void {
    this.startWith(callSid, { token: mintToken(this.target, callSid, claims) }, start);
  }

  /** `connected` + `start` with exactly these custom parameters (no token unless given). */
  startWith(callSid: string, custom: Record<string, string>, start: Json = {}): void {
    this.callSid = callSid;
    this.json({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.startedAt = performance.now();
    this.json({
      event: 'start',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      start: {
        accountSid: 'AC' + 'a1'.repeat(16),
        streamSid: this.streamSid,
        callSid,
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: custom,
        ...start,
      },
    });
  }

  /** One media message (any size); the timestamp follows the chunk count unless given. */
  media(payload: Uint8Array | string, over: { streamSid?: string; timestamp?: number } = {}): void {
    const b64 = typeof payload === 'string' ? payload : Buffer.from(payload).toString('base64');
    this.chunk++;
    this.json({
      event: 'media',
      sequenceNumber: String(++this.seq),
      streamSid: over.streamSid ?? this.streamSid,
      media: {
        track: 'inbound',
        chunk: String(this.chunk),
        timestamp: String(over.timestamp ?? this.chunk * 20),
        payload: b64,
      },
    });
  }

  dtmf(digit: string): void {
    this.json({
      event: 'dtmf',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      dtmf: { track: 'inbound_track', digit },
    });
  }

  mark(name: string): void {
    this.json({ event: 'mark', sequenceNumber: String(++this.seq), streamSid: this.streamSid, mark: { name } });
  }

  stop(): void {
    this.json({
      event: 'stop',
      sequenceNumber: String(++this.seq),
      streamSid: this.streamSid,
      stop: { accountSid: 'AC' + 'a1'.repeat(16), callSid: this.callSid },
    });
  }

  /** Sends a 20 ms frame (default μ-law silence) every 20 ms, as Twilio never stops sending audio. Returns a stop function. */
  pace(frame: () => Uint8Array = () => SILENCE): () => void {
    const t0 = performance.now();
    let sent = 0;
    const timer = setInterval(() => {
      const due = Math.floor((performance.now() - t0) / 20);
      while (sent < due && this.isOpen) {
        this.media(frame());
        sent++;
      }
    }, 10);
    return () => clearInterval(timer);
  }

  waitFor(pred: (m: Json) => boolean, timeoutMs = 5000): Promise<Received> {
    const seen = this.received.find((r) => pred(r.msg));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for a bridge message`)),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (r) => {
          clearTimeout(t);
          resolve(r);
        },
      });
    });
  }

  /** Every media message received, in order. */
  media8k(): { at: number; pcm: Int16Array }[] {
    return this.received
      .filter((r) => r.msg.event === 'media')
      .map((r) => ({ at: r.at, pcm: decodeMulaw(Buffer.from(r.msg.media.payload as string, 'base64')) }));
  }

  /** All agent audio received, concatenated (8 kHz PCM). */
  audio(): Int16Array {
    const parts = this.media8k();
    const out = new Int16Array(parts.reduce((n, p) => n + p.pcm.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p.pcm, o);
      o += p.pcm.length;
    }
    return out;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}

export const SILENCE = new Uint8Array(160).fill(0xff);
