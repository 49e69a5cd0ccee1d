/**
 * Listen-in for the operator console: a copy of one call's audio, both directions, for a few
 * supervisors' browsers. The call never waits on a listener and never hears one:
 *
 * - the session hands the tap each chunk it already has (caller μ-law as received, the μ-law it
 *   sends to the caller, hold audio included: what the caller hears), and the tap copies the bytes
 *   into a fixed buffer per direction — a memcpy, no decode, no allocation per frame;
 * - a timer (one per listened call, every FLUSH_MS) sends what accumulated, both directions in
 *   one binary message, the same Buffer to every listener; the browser mixes the two (Web Audio).
 *   One message per flush, not one per direction or per frame: on loopback the bridge's CPU goes
 *   mostly to socket writes, and bench:listen measured 10 % extra per call with two messages
 *   every 100 ms against the calls' own ~200 writes a second;
 * - a listener whose socket has more than MAX_BUFFERED_BYTES unsent (about two seconds of audio)
 *   is closed, never buffered for: its slowness costs nobody else anything.
 *
 * Wire format of a message (binary): byte 0 = LISTEN_FORMAT_VERSION, byte 1 = 0 (reserved),
 * bytes 2–3 = a sequence number (uint16 big-endian, wraps: a gap means a message was lost),
 * bytes 4–5 = the caller's byte count C (uint16 BE), then C bytes of the caller's audio, then the
 * rest: what the caller hears from the bridge over the same interval. Both G.711 μ-law at 8 kHz.
 */

export const LISTEN_FORMAT_VERSION = 1;
export const LISTEN_HEADER_BYTES = 6;
export const CHANNEL_CALLER = 0;
export const CHANNEL_AGENT = 1;
/**
 * How often accumulated audio is sent: at most this much delay added by batching (the page plays
 * 120 ms ahead of its clock, so a listener hears the call under half a second behind).
 */
export const FLUSH_MS = 160;
/** Bytes kept per direction between flushes (1 s of 8 kHz μ-law): a stalled timer drops, never grows. */
const CAPACITY = 8000;
/** A listener with this much unsent is too slow: closed rather than buffered for (≈2 s of both directions). */
export const MAX_BUFFERED_BYTES = 32 * 1024;

/** The part of a WebSocket a tap uses (ws's WebSocket satisfies it). */
export interface ListenSink {
  readonly bufferedAmount: number;
  send(data: Buffer): void;
  close(code?: number, reason?: string): void;
}

export interface ListenStats {
  /** bytes dropped because a direction overflowed between flushes */
  dropped: number;
  /** listeners closed for being too slow */
  slowClosed: number;
}

/** One call's listen tap: exists only while someone listens (the feed's `tap` is undefined otherwise). */
export class ListenTap {
  private readonly bufs = [new Uint8Array(CAPACITY), new Uint8Array(CAPACITY)];
  private readonly lens = [0, 0];
  private seq = 0;
  private readonly sinks = new Map<ListenSink, (why: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  readonly stats: ListenStats = { dropped: 0, slowClosed: 0 };

  constructor(private readonly flushMs = FLUSH_MS) {}

  get listeners(): number {
    return this.sinks.size;
  }

  /** A chunk of one direction's μ-law; `mu` may be a reused buffer: it is copied, not kept. */
  add(channel: 0 | 1, mu: Uint8Array): void {
    const len = this.lens[channel]!;
    const room = CAPACITY - len;
    const n = mu.length <= room ? mu.length : room;
    if (n < mu.length) this.stats.dropped += mu.length - n;
    if (n > 0) {
      this.bufs[channel]!.set(n === mu.length ? mu : mu.subarray(0, n), len);
      this.lens[channel] = len + n;
    }
  }

  /** Adds a listener; `ended(why)` is told once when it is removed (stopped, slow, the call ended). */
  join(sink: ListenSink, ended: (why: string) => void): void {
    this.sinks.set(sink, ended);
    if (!this.timer) {
      this.timer = setInterval(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Removes a listener (its socket closed); the tap stops when none is left. */
  leave(sink: ListenSink, why = 'stopped'): void {
    const ended = this.sinks.get(sink);
    if (!ended) return;
    this.sinks.delete(sink);
    ended(why);
    if (this.sinks.size === 0) this.stop();
  }

  /** Sends what accumulated to every listener; a listener too far behind is closed instead. */
  flush(): void {
    const c = this.lens[CHANNEL_CALLER]!;
    const a = this.lens[CHANNEL_AGENT]!;
    if (c + a === 0) return;
    this.lens[0] = this.lens[1] = 0;
    const msg = Buffer.allocUnsafe(LISTEN_HEADER_BYTES + c + a);
    msg[0] = LISTEN_FORMAT_VERSION;
    msg[1] = 0;
    msg.writeUInt16BE(this.seq, 2);
    this.seq = (this.seq + 1) & 0xffff;
    msg.writeUInt16BE(c, 4);
    msg.set(this.bufs[CHANNEL_CALLER]!.subarray(0, c), LISTEN_HEADER_BYTES);
    msg.set(this.bufs[CHANNEL_AGENT]!.subarray(0, a), LISTEN_HEADER_BYTES + c);
    for (const sink of [...this.sinks.keys()]) {
      if (sink.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.stats.slowClosed++;
        sink.close(1008, 'listener too slow');
        this.leave(sink, 'too_slow');
        continue;
      }
      try {
        sink.send(msg);
      } catch {
        this.leave(sink, 'send_failed');
      }
    }
  }

  /** The call ended (or the bridge closes): every listener is closed and told. */
  end(code = 1000, reason = 'call ended'): void {
    for (const sink of [...this.sinks.keys()]) {
      try {
        sink.close(code, reason);
      } catch {
        /* already closed */
      }
      this.leave(sink, 'call_ended');
    }
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.lens[0] = this.lens[1] = 0;
  }
}
