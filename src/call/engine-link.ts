import { EventEmitter } from 'node:events';
import { OmniClient } from '../omni/client.js';
import { classifyClose } from '../omni/close-policy.js';
import type { ConfigurePayload, OmniEvent } from '../omni/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { HoldMeter } from '../net/write-coalescer.js';

export interface EngineLinkOptions {
  baseUrl: string;
  apiKey?: string;
  rate: 8000 | 16000 | 24000;
  sessionLabel?: string;
  configure: ConfigurePayload;
  connectTimeoutMs: number;
  /** caller audio held while the engine is not ready, in ms (bounded; oldest dropped) */
  maxPendingMs: number;
  /** delays of the reconnect attempts after an abnormal close (§8: first within 250 ms) */
  retryDelaysMs?: number[];
  /** what the new session should know after a reconnect (bounded text), if anything */
  contextSummary?: () => string | undefined;
  /** agent audio of whichever engine session is current (called directly: the hot path) */
  onAudio: (pcm: Int16Array, rate: number) => void;
  /** shared reads and write coalescing for the engine socket (src/net/socket-tuning.ts) */
  sockets?: SocketTuning;
  logger: Logger;
  metrics?: Metrics;
}

/** ~2.5 s of 24 kHz audio queued in the socket: past this the engine is stalled, not busy. */
const SOCKET_HIGH_WATER = 128 * 1024;
const SOCKET_LOW_WATER = 32 * 1024;

/** All reconnect attempts of one outage happen within this window. */
const RETRY_WINDOW_MS = 5000;
const MIN_ATTEMPT_MS = 250;

export type LinkState = 'connecting' | 'ready' | 'reconnecting' | 'ended';

/**
 * One call's connection to the engine, across reconnects. Owns the OmniClient of the moment,
 * holds caller audio (copied, bounded) until the engine can take it and replays it in order,
 * and applies the close policy of omni-protocol.md §8: abnormal closes reconnect with backoff
 * and a fresh, complete `configure` carrying the conversation so far; policy closes and
 * exhausted retries end the link with `lost` so the session can run the agent's fallback.
 *
 * Agent audio goes to `onAudio`. Events: `event`(OmniEvent), `ready`, `reconnecting`(attempt),
 * `lost`({code, reason, fatal}), `ended`(code) — exactly one of `lost`/`ended`.
 */
export class EngineLink extends EventEmitter {
  private client: OmniClient | undefined;
  private pending: Int16Array[] = [];
  private readonly maxPendingFrames: number;
  private attempt = 0;
  private retryWindowStart = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private endedByUs = false;
  state: LinkState = 'connecting';
  stats = { pendingDropped: 0, reconnects: 0, closeCodes: [] as number[], connectMs: [] as number[] };

  /** the coalescer's wait per flush of the engine socket, bound to its label once */
  private readonly holdMeter: HoldMeter | undefined;

  constructor(private readonly opts: EngineLinkOptions) {
    super();
    this.maxPendingFrames = Math.max(1, Math.ceil(opts.maxPendingMs / 20));
    this.holdMeter = opts.sockets?.coalescer ? opts.metrics?.writeHold.labels('to_engine') : undefined;
  }

  get outputRate(): number {
    return this.client?.outputRate ?? this.opts.rate;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  start(): void {
    void this.connect(this.opts.configure);
  }

  /** One 20 ms frame of caller audio at the engine rate (the view may be reused by the caller). */
  sendAudio(frame: Int16Array): void {
    if (this.state === 'ready' && this.client) {
      // A stalled engine must not grow the socket's buffer without bound: past the high
      // watermark frames wait in the bounded pending queue (oldest dropped first), and go out
      // in order once the socket has drained below the low watermark.
      const buffered = this.client.bufferedAmount;
      if (this.pending.length === 0 && buffered < SOCKET_HIGH_WATER) {
        this.client.sendAudio(frame);
        return;
      }
      if (this.pending.length > 0 && buffered < SOCKET_LOW_WATER) {
        this.flushPending(this.client);
        if (this.pending.length === 0) {
          this.client.sendAudio(frame);
          return;
        }
      }
    }
    if (this.state === 'ended') return;
    if (this.pending.length >= this.maxPendingFrames) {
      this.pending.shift();
      this.stats.pendingDropped++;
      this.opts.metrics?.framesDropped.inc({ direction: 'to_engine', reason: this.state === 'ready' ? 'engine_backlog' : 'engine_not_ready' });
    }
    this.pending.push(frame.slice());
  }

  sendDtmf(digit: string): void {
    if (this.state === 'ready') this.client?.sendDtmf(digit);
  }

  sendToolResult(callId: string, name: string, output: unknown): boolean {
    if (this.state !== 'ready' || !this.client) return false;
    this.client.sendToolResult(callId, name, output);
    return true;
  }

  /** Hang-up: `session_ending` then close 1000; no reconnect after this. */
  end(): void {
    if (this.state === 'ended') return;
    this.endedByUs = true;
    this.finish();
    this.client?.end();
    this.emit('ended', 1000);
  }

  /**
   * The first connect gets the configured timeout; reconnects share one window (§8 and the
   * resilience target: at most 3 attempts within 5 s), so the caller's wait stays bounded.
   */
  private attemptTimeoutMs(): number {
    if (this.attempt === 0) return this.opts.connectTimeoutMs;
    const left = RETRY_WINDOW_MS - (performance.now() - this.retryWindowStart);
    return Math.max(MIN_ATTEMPT_MS, Math.min(this.opts.connectTimeoutMs, left));
  }

  private flushPending(client: OmniClient): void {
    let i = 0;
    while (i < this.pending.length && client.bufferedAmount < SOCKET_HIGH_WATER) client.sendAudio(this.pending[i++]!);
    this.pending.splice(0, i);
  }

  private finish(): void {
    this.state = 'ended';
    this.pending = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async connect(configure: ConfigurePayload): Promise<void> {
    const { logger, metrics } = this.opts;
    const client = new OmniClient({
      baseUrl: this.opts.baseUrl,
      apiKey: this.opts.apiKey,
      rate: this.opts.rate,
      sessionLabel: this.opts.sessionLabel,
      configure,
      connectTimeoutMs: this.attemptTimeoutMs(),
      onAudio: this.opts.onAudio,
      sockets: this.opts.sockets,
      holdMeter: this.holdMeter,
      logger,
    });
    this.client = client;
    client.on('event', (ev: OmniEvent) => this.emit('event', ev));
    client.on('rejected', (reason: string) => {
      metrics?.rejected.inc({ source: 'engine', reason: reason.split(':')[0]!.slice(0, 40) });
      logger.warn({ reason }, 'engine message rejected');
    });
    client.on('close', (code: number, reason: string) => this.onClose(client, code, reason));
    const t0 = performance.now();
    try {
      await client.connect();
    } catch (err) {
      // the client emits `close` too (code 1006) and onClose decides about retrying
      logger.warn({ err: (err as Error).message }, 'engine connect failed');
      return;
    }
    if (this.client !== client || this.state === 'ended') return;
    const ms = performance.now() - t0;
    this.stats.connectMs.push(Math.round(ms));
    metrics?.engineConnect.observe(ms / 1000);
    if (this.attempt > 0) metrics?.engineReconnects.inc({ result: 'ok' });
    this.attempt = 0;
    this.retryWindowStart = 0;
    this.state = 'ready';
    // Held caller audio goes first, in order, so the engine hears the call as it happened.
    this.flushPending(client);
    this.emit('ready');
  }

  private onClose(client: OmniClient, code: number, reason: string): void {
    if (client !== this.client || this.endedByUs || this.state === 'ended') return;
    const { logger, metrics } = this.opts;
    this.stats.closeCodes.push(code);
    metrics?.engineCloses.inc({ code: String(code) });
    const kind = classifyClose(code);
    if (kind === 'normal') {
      this.finish();
      this.emit('ended', code);
      return;
    }
    const delays = this.opts.retryDelaysMs ?? [100, 600, 1800];
    if (this.attempt === 0) this.retryWindowStart = performance.now();
    const windowLeft = RETRY_WINDOW_MS - (performance.now() - this.retryWindowStart);
    if (kind === 'fatal' || this.attempt >= delays.length || windowLeft <= (delays[this.attempt] ?? 0) + MIN_ATTEMPT_MS) {
      if (this.attempt > 0) metrics?.engineReconnects.inc({ result: 'gave_up' });
      logger.error({ code, reason: reason.slice(0, 120), attempts: this.attempt }, 'engine session lost');
      this.finish();
      this.emit('lost', { code, reason, fatal: kind === 'fatal' });
      return;
    }
    const delay = delays[this.attempt]!;
    this.attempt++;
    this.stats.reconnects++;
    this.state = 'reconnecting';
    logger.warn({ code, attempt: this.attempt, delayMs: delay }, 'engine closed abnormally; reconnecting');
    this.emit('reconnecting', this.attempt);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect(this.resumeConfigure());
    }, delay);
  }

  /** A complete configure for a fresh session that has no memory of this call. */
  private resumeConfigure(): ConfigurePayload {
    const base = this.opts.configure;
    const summary = this.opts.contextSummary?.();
    const note = summary
      ? `\n\n[The call was briefly interrupted by a technical problem and has resumed. Do not greet the caller again. Conversation so far:\n${summary}]`
      : '\n\n[The call was briefly interrupted by a technical problem and has resumed. Do not greet the caller again.]';
    const { greeting: _drop, ...rest } = base;
    return { ...rest, persona: base.persona + note };
  }
}
