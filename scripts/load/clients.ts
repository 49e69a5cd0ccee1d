/**
 * Lightweight Twilio-like callers for the load benchmark: far cheaper than the full simulator so
 * that the load side (one core, shared with the offline engine) is not what runs out first.
 *
 * Each call: a signed POST /twilio/voice (which pre-connects the engine when enabled), a signed Media
 * Streams upgrade, `connected` + `start`, then one 160-byte μ-law `media` message every 20 ms in
 * real time, driven for all calls by ONE shared ticker (each call has its own random phase, as
 * real calls do). Payloads are pre-encoded base64 and messages are concatenated from pre-built
 * pieces; inbound messages are classified by one byte, never JSON-parsed. Marks are echoed at once.
 *
 * Measured per window: frames sent/received, caller frame → agent frame round trip (frame k back
 * is matched with frame k sent: loopback returns exactly one frame per frame), late frames.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { PAYLOADS, signedPost } from './caller-wire.js';

export interface PoolOptions {
  /** where the bridge really listens: http://127.0.0.1:port */
  bridgeUrl: string;
  /** PUBLIC_URL of the bridge (what Twilio signs) */
  publicUrl: string;
  accountSid: string;
  authToken: string;
  /** an agent routed for `to` */
  to: string;
  /** a round trip longer than this counts as a late frame */
  lateMs: number;
}

const FRAME_MS = 20;
const FRAME_BYTES = 160; // 20 ms of 8 kHz μ-law
const RING = 1024; // send times remembered per call (20 s of frames): far beyond any sane backlog
const E2E_BIN_US = 100; // round-trip histogram resolution
const E2E_BINS = 20_000; // up to 2 s; anything above lands in the last bin (and in max)
const TICK_MS = 1;

export interface WindowStats {
  framesSent: number;
  framesReceived: number;
  late: number;
  /** agent frames beyond the caller frames sent (cannot be timed) */
  unmatched: number;
  marksEchoed: number;
  e2eCount: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
  e2eMaxMs: number;
}

class LoadCall {
  readonly callSid = 'CA' + randomBytes(16).toString('hex');
  readonly streamSid = 'MZ' + randomBytes(16).toString('hex');
  ws: WebSocket | undefined;
  sending = false;
  closed = false;
  unexpectedClose = false;
  nextDue = 0;
  sent = 0;
  received = 0;
  private seq = 0;
  private readonly sendTimes = new Float64Array(RING);
  private readonly mediaMid: string;
  private readonly markMid: string;

  constructor(private readonly pool: LoadPool) {
    this.mediaMid = `","streamSid":"${this.streamSid}","media":{"track":"inbound","chunk":"`;
    this.markMid = `","streamSid":"${this.streamSid}","mark":{"name":"`;
  }

  sendFrame(now: number): void {
    const n = ++this.sent;
    this.sendTimes[(n - 1) & (RING - 1)] = now;
    // Counters are strings on the wire, as Twilio sends them; the payload is pre-encoded.
    this.ws!.send(
      '{"event":"media","sequenceNumber":"' +
        ++this.seq +
        this.mediaMid +
        n +
        '","timestamp":"' +
        n * FRAME_MS +
        '","payload":"' +
        PAYLOADS[n % PAYLOADS.length] +
        '"}}',
    );
    this.pool.onSent();
  }

  onMessage(data: Buffer, now: number): void {
    // {"event":"media"… / {"event":"mark"… / {"event":"clear"…: byte 11 tells them apart.
    const c = data[11];
    if (c === 0x65 /* e: media */) {
      // One message may carry several 20 ms frames (the bridge batches what is due at once).
      const at = data.indexOf('"payload":"');
      const end = at < 0 ? -1 : data.indexOf(0x22, at + 11);
      const b64 = end < 0 ? 0 : end - at - 11;
      const pad = b64 > 0 && data[end - 1] === 0x3d ? (data[end - 2] === 0x3d ? 2 : 1) : 0;
      const frames = Math.max(1, Math.round(((b64 * 3) / 4 - pad) / FRAME_BYTES));
      for (let i = 0; i < frames; i++) {
        const k = ++this.received;
        // NaN: an agent frame with no caller frame to match (the engine said more than it heard)
        const rtt = k <= this.sent && this.sent - k < RING ? now - this.sendTimes[(k - 1) & (RING - 1)]! : NaN;
        this.pool.onReceived(rtt);
      }
    } else if (c === 0x61 /* a: mark */) {
      const at = data.indexOf('"name":"');
      if (at < 0) return;
      const end = data.indexOf(0x22, at + 8);
      const name = data.toString('latin1', at + 8, end);
      this.ws!.send('{"event":"mark","sequenceNumber":"' + ++this.seq + this.markMid + name + '"}}');
      this.pool.onMark();
    } else {
      this.pool.onOther();
    }
  }

  sendStart(accountSid: string, token: string | undefined): void {
    const ws = this.ws!;
    ws.send('{"event":"connected","protocol":"Call","version":"1.0.0"}');
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: String(++this.seq),
        streamSid: this.streamSid,
        start: {
          accountSid,
          streamSid: this.streamSid,
          callSid: this.callSid,
          tracks: ['inbound'],
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: token ? { token } : { from: '+15557650000' },
        },
      }),
    );
  }

  sendStop(accountSid: string): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(
      JSON.stringify({
        event: 'stop',
        sequenceNumber: String(++this.seq),
        streamSid: this.streamSid,
        stop: { accountSid, callSid: this.callSid },
      }),
    );
  }
}

export class LoadPool {
  private readonly calls: LoadCall[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  private readonly upgradeSignature: string;
  private readonly mediaUrl: string;
  private inWindow = false;
  private w = this.emptyWindow();
  private readonly e2eBins = new Uint32Array(E2E_BINS);
  errors: string[] = [];

  constructor(private readonly opts: PoolOptions) {
    const pub = new URL(opts.publicUrl);
    // What Twilio signs for a stream: wss://{host}{path}, no parameters.
    this.upgradeSignature = signTwilioRequest(opts.authToken, `wss://${pub.host}/twilio/media`, {});
    this.mediaUrl = `${opts.bridgeUrl.replace(/^http/, 'ws')}/twilio/media`;
  }

  get size(): number {
    return this.calls.length;
  }

  private emptyWindow() {
    return { sent: 0, received: 0, unmatched: 0, late: 0, marks: 0, other: 0, e2eCount: 0, e2eMax: 0 };
  }

  /** Starts the shared 20 ms clock of every call (one timer for all). */
  startTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      const now = performance.now();
      for (const c of this.calls) {
        if (!c.sending) continue;
        // Real time at the source: a late tick sends the frames that are due, in order.
        while (c.nextDue <= now) {
          c.sendFrame(now);
          c.nextDue += FRAME_MS;
        }
      }
    }, TICK_MS);
  }

  stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
  }

  onSent(): void {
    if (this.inWindow) this.w.sent++;
  }

  onReceived(rttMs: number): void {
    if (!this.inWindow) return;
    const w = this.w;
    w.received++;
    if (Number.isNaN(rttMs)) {
      w.unmatched++;
      return;
    }
    if (rttMs > this.opts.lateMs) w.late++;
    w.e2eCount++;
    if (rttMs > w.e2eMax) w.e2eMax = rttMs;
    const bin = Math.min(E2E_BINS - 1, Math.floor((rttMs * 1000) / E2E_BIN_US));
    this.e2eBins[bin]!++;
  }

  onMark(): void {
    if (this.inWindow) this.w.marks++;
  }

  onOther(): void {
    this.w.other++;
  }

  beginWindow(): void {
    this.w = this.emptyWindow();
    this.e2eBins.fill(0);
    this.inWindow = true;
  }

  endWindow(): WindowStats {
    this.inWindow = false;
    const w = this.w;
    const q = (p: number): number => {
      const rank = Math.ceil(p * w.e2eCount);
      let cum = 0;
      for (let i = 0; i < E2E_BINS; i++) {
        cum += this.e2eBins[i]!;
        if (cum >= rank) return ((i + 0.5) * E2E_BIN_US) / 1000;
      }
      return NaN;
    };
    return {
      framesSent: w.sent,
      framesReceived: w.received,
      late: w.late,
      unmatched: w.unmatched,
      marksEchoed: w.marks,
      e2eCount: w.e2eCount,
      e2eP50Ms: q(0.5),
      e2eP99Ms: q(0.99),
      e2eMaxMs: w.e2eMax,
    };
  }

  /** Places one call: signed webhook, signed upgrade, `start`, then joins the shared clock. */
  async place(): Promise<void> {
    const call = new LoadCall(this);
    const params: Record<string, string> = {
      CallSid: call.callSid,
      AccountSid: this.opts.accountSid,
      From: '+15557650000',
      To: this.opts.to,
      CallStatus: 'ringing',
      Direction: 'inbound',
    };
    const twiml = await signedPost(this.agent, this.opts, '/twilio/voice', params);
    if (!twiml.includes('<Stream')) throw new Error(`voice webhook did not connect a stream: ${twiml.slice(0, 120)}`);
    // The stream token of the TwiML goes back in `start`, as Twilio carries a <Parameter>
    // (a bridge from before stream tokens has none: bench:ab may run one as side A).
    const token = /<Parameter name="token" value="([A-Za-z0-9_-]+)"\/>/.exec(twiml)?.[1];
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.mediaUrl, {
        headers: { 'X-Twilio-Signature': this.upgradeSignature },
        perMessageDeflate: false,
        handshakeTimeout: 10_000,
      });
      call.ws = ws;
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        reject(new Error(`media upgrade refused: HTTP ${res.statusCode}`));
      });
      ws.on('error', (err) => {
        if (ws.readyState !== WebSocket.OPEN) reject(err);
      });
      ws.on('open', () => {
        call.sendStart(this.opts.accountSid, token);
        call.nextDue = performance.now() + Math.random() * FRAME_MS;
        call.sending = true;
        this.calls.push(call);
        resolve();
      });
      ws.on('message', (data: Buffer) => call.onMessage(data, performance.now()));
      ws.on('close', () => {
        if (!call.closed) {
          call.unexpectedClose = true;
          if (this.errors.length < 20) this.errors.push(`bridge closed call ${call.callSid} mid-run`);
        }
        call.closed = true;
        call.sending = false;
      });
    });
  }

  /** Callers fall silent (the agent's audio still comes back and is counted). */
  stopSending(): void {
    for (const c of this.calls) c.sending = false;
  }

  /** Totals over every call's whole life: frames sent, frames returned, and the shortfall. */
  totals(): {
    calls: number;
    sent: number;
    received: number;
    shortfall: number;
    maxShortfall: number;
    droppedCalls: number;
  } {
    let sent = 0;
    let received = 0;
    let shortfall = 0;
    let maxShortfall = 0;
    let droppedCalls = 0;
    for (const c of this.calls) {
      sent += c.sent;
      received += c.received;
      const s = Math.max(0, c.sent - c.received);
      shortfall += s;
      if (s > maxShortfall) maxShortfall = s;
      if (c.unexpectedClose) droppedCalls++;
    }
    return { calls: this.calls.length, sent, received, shortfall, maxShortfall, droppedCalls };
  }

  /** Twilio hangs up every call: `stop`, close; waits (bounded) for the sockets to close. */
  async hangUpAll(timeoutMs = 5000): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const c of this.calls) {
      c.sending = false;
      const ws = c.ws;
      if (!ws || c.closed) continue;
      c.closed = true;
      c.sendStop(this.opts.accountSid);
      closing.push(
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(1000);
        }),
      );
    }
    const timer = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.all(closing), timer]);
    for (const c of this.calls) if (c.ws && c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
    this.calls.length = 0;
  }

  close(): void {
    this.stopTicker();
    for (const c of this.calls) c.ws?.terminate();
    this.calls.length = 0;
    this.agent.destroy();
  }
}
