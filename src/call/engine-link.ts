import { EventEmitter } from 'node:events';
import { OmniClient, type OmniClientEvents, type OmniClientOptions } from '../omni/client.js';
import { classifyClose, closeCodeLabel } from '../omni/close-policy.js';
import type { ConfigurePayload, OmniEvent } from '../omni/events.js';
import {
  afterHello,
  attemptBudgetMs,
  decideReconnect,
  DEFAULT_RECONNECT_POLICY,
  dropCauseOf,
  NO_RECONNECTS,
  type DropCause,
  type LostCause,
  type ReconnectHistory,
  type ReconnectPolicy,
} from './reconnect.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { NO_CALL_LABELS, type CallLabels } from '../observability/call-labels.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { HoldMeter } from '../net/write-coalescer.js';

export type { LostCause } from './reconnect.js';

/** What the link uses of an engine session's client (OmniClient; tests give a fake). */
export type EngineClient = Pick<
  OmniClient,
  'connect' | 'sendAudio' | 'sendDtmf' | 'sendToolResult' | 'end' | 'bufferedAmount' | 'outputRate'
> & {
  on<K extends keyof OmniClientEvents>(event: K, listener: (...args: OmniClientEvents[K]) => void): unknown;
};

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
  /**
   * After the socket opens, the engine must say `hello` (or `session_started` / `configured` /
   * `config_ack`) within this; otherwise the session is dropped and handled like an abnormal
   * close (reconnect, then `lost`). Default 5000.
   */
  helloTimeoutMs?: number;
  /** At most this many reconnects within `reconnectWindowMs` (default 3 in 60 s); the next drop is `lost`. */
  maxReconnects?: number;
  reconnectWindowMs?: number;
  /** what the new session should know after a reconnect (bounded text), if anything */
  contextSummary?: () => string | undefined;
  /** agent audio of whichever engine session is current (called directly: the hot path) */
  onAudio: (pcm: Int16Array, rate: number) => void;
  /** shared reads and write coalescing for the engine socket (src/net/socket-tuning.ts) */
  sockets?: SocketTuning;
  logger: Logger;
  metrics?: Metrics;
  /** the call's agent and route labels for its per-agent metrics (reconnects) */
  labels?: CallLabels;
  /** makes each engine session's client (default: an OmniClient on a socket) */
  client?: (opts: OmniClientOptions) => EngineClient;
}

/** ~2.5 s of 24 kHz audio queued in the socket: past this the engine is stalled, not busy. */
const SOCKET_HIGH_WATER = 128 * 1024;
const SOCKET_LOW_WATER = 32 * 1024;

export type LinkState = 'connecting' | 'ready' | 'reconnecting' | 'ended';

export interface LinkLost {
  code: number;
  reason: string;
  fatal: boolean;
  cause: LostCause;
}

/** What an EngineLink emits: exactly one of `lost`/`ended`, once. */
export interface EngineLinkEvents {
  /** an engine event (a reconnect's replaced client emits none) */
  event: [ev: OmniEvent];
  /** the engine said hello (again, after a reconnect) */
  ready: [];
  /** a reconnect is scheduled; the attempt counts from 1 */
  reconnecting: [attempt: number];
  lost: [lost: LinkLost];
  /** closed normally, with this close code */
  ended: [code: number];
}

/**
 * One call's connection to the engine, across reconnects. Owns the client of the moment (an
 * OmniClient, or what `client` makes), holds caller audio (copied, bounded) until the engine can
 * take it and replays it in order, and applies the close policy of omni-protocol.md §8: abnormal
 * closes reconnect with backoff and a fresh, complete `configure` carrying the conversation so
 * far; policy closes and exhausted retries end the link with `lost` so the session can run the
 * agent's fallback. Whether to reconnect is decided by src/call/reconnect.ts (a pure function).
 *
 * Two bounds beyond §8: an engine that opens the socket but does not say `hello`
 * within `helloTimeoutMs` is dropped like an abnormal close; and reconnects are counted in a
 * sliding window (`maxReconnects` in `reconnectWindowMs`), not per outage, so an engine that
 * comes up and drops again and again (a flap) ends in `lost` instead of being reconnected forever.
 *
 * Caller audio flows from the socket's open; the link is `ready` (the event) once the engine
 * said hello. Agent audio goes to `onAudio`. Events: `event`(OmniEvent), `ready`,
 * `reconnecting`(attempt), `lost`(LinkLost), `ended`(code) — exactly one of `lost`/`ended`.
 */
export class EngineLink extends EventEmitter<EngineLinkEvents> {
  private client: EngineClient | undefined;
  private pending: Int16Array[] = [];
  private readonly maxPendingFrames: number;
  /** when to reconnect and when to give up (src/call/reconnect.ts), and what it remembers */
  private readonly policy: ReconnectPolicy;
  private history: ReconnectHistory = NO_RECONNECTS;
  private retryTimer: NodeJS.Timeout | undefined;
  private helloTimer: NodeJS.Timeout | undefined;
  /** the current client said hello (or session_started / configured) */
  private alive = false;
  private aliveSince = 0;
  private endedByUs = false;
  state: LinkState = 'connecting';
  stats = { pendingDropped: 0, reconnects: 0, flaps: 0, closeCodes: [] as number[], connectMs: [] as number[] };

  /** the coalescer's wait per flush of the engine socket, bound to its label once */
  private readonly holdMeter: HoldMeter | undefined;

  constructor(private readonly opts: EngineLinkOptions) {
    super();
    this.maxPendingFrames = Math.max(1, Math.ceil(opts.maxPendingMs / 20));
    this.holdMeter = opts.sockets?.coalescer ? opts.metrics?.writeHold.labels('to_engine') : undefined;
    const d = DEFAULT_RECONNECT_POLICY;
    this.policy = {
      ...d,
      delaysMs: opts.retryDelaysMs ?? d.delaysMs,
      maxReconnects: opts.maxReconnects ?? d.maxReconnects,
      windowMs: opts.reconnectWindowMs ?? d.windowMs,
    };
  }

  /** the call's agent and route, or the fixed values of a link without a call (tests, tools) */
  private get reconnectLabels(): CallLabels {
    return this.opts.labels ?? NO_CALL_LABELS;
  }

  get outputRate(): number {
    return this.client?.outputRate ?? this.opts.rate;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** The engine of the moment has said hello: it is there, not just its socket. */
  get engineAlive(): boolean {
    return this.alive && this.state === 'ready';
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
      this.opts.metrics?.framesDropped.inc({
        direction: 'to_engine',
        reason: this.state === 'ready' ? 'engine_backlog' : 'engine_not_ready',
      });
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
    return attemptBudgetMs(performance.now(), this.opts.connectTimeoutMs, this.history, this.policy);
  }

  /** The hello deadline: the configured one, within the outage's window on a reconnect. */
  private helloTimeoutMs(): number {
    return attemptBudgetMs(performance.now(), this.opts.helloTimeoutMs ?? 5000, this.history, this.policy);
  }

  private flushPending(client: EngineClient): void {
    let i = 0;
    while (i < this.pending.length && client.bufferedAmount < SOCKET_HIGH_WATER) client.sendAudio(this.pending[i++]!);
    this.pending.splice(0, i);
  }

  private finish(): void {
    this.state = 'ended';
    this.pending = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.clearHelloTimer();
  }

  private clearHelloTimer(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
  }

  private async connect(configure: ConfigurePayload): Promise<void> {
    const { logger, metrics } = this.opts;
    const client = (this.opts.client ?? ((o) => new OmniClient(o)))({
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
    this.alive = false;
    client.on('ready', () => this.onAlive(client));
    client.on('event', (ev: OmniEvent) => {
      // a session dropped at the hello deadline may still answer our session_ending: not this link's
      if (client === this.client) this.emit('event', ev);
    });
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
    this.state = 'ready';
    // Held caller audio goes first, in order, so the engine hears the call as it happened.
    this.flushPending(client);
    if (!this.alive) this.armHelloDeadline(client);
  }

  /**
   * The socket is open but an engine that accepts it and says nothing would leave the caller in
   * dead air: without hello (or session_started / configured / config_ack) in time, this session
   * is dropped and handled like an abnormal close (reconnect, then `lost`).
   */
  private armHelloDeadline(client: EngineClient): void {
    const timeoutMs = this.helloTimeoutMs();
    this.clearHelloTimer();
    this.helloTimer = setTimeout(() => {
      this.helloTimer = undefined;
      if (client !== this.client || this.alive || this.state !== 'ready') return;
      this.opts.logger.warn(
        { timeoutMs, attempt: this.history.attempt },
        'engine said nothing: no hello within the deadline',
      );
      this.opts.metrics?.engineDeadlines.inc({ deadline: 'hello' });
      this.client = undefined; // its close (after our session_ending) is no longer this link's business
      client.end();
      this.onDrop(1006, `no hello within ${timeoutMs} ms`, 'silent');
    }, timeoutMs);
  }

  /** The engine said hello: the session is up, and an outage (if one was running) is over. */
  private onAlive(client: EngineClient): void {
    if (client !== this.client || this.alive || this.state === 'ended') return;
    this.clearHelloTimer();
    this.alive = true;
    this.aliveSince = performance.now();
    if (this.history.attempt > 0) this.opts.metrics?.engineReconnects.inc({ ...this.reconnectLabels, result: 'ok' });
    // The per-outage budget starts again; the sliding window does not.
    this.history = afterHello(this.history);
    this.emit('ready');
  }

  private onClose(client: EngineClient, code: number, reason: string): void {
    if (client !== this.client || this.endedByUs || this.state === 'ended') return;
    const { metrics } = this.opts;
    this.clearHelloTimer();
    this.stats.closeCodes.push(code);
    metrics?.engineCloses.inc({ code: closeCodeLabel(code) });
    if (classifyClose(code) === 'normal') {
      this.finish();
      this.emit('ended', code);
      return;
    }
    this.onDrop(code, reason, dropCauseOf(code));
  }

  /**
   * The engine session of the moment is gone (closed abnormally, refused, or silent past the hello
   * deadline): reconnect within the outage's budget and the sliding window, or give up with `lost`.
   */
  private onDrop(code: number, reason: string, cause: DropCause): void {
    const { logger, metrics } = this.opts;
    const now = performance.now();
    const wasUp = this.alive;
    const upMs = wasUp ? Math.round(now - this.aliveSince) : 0;
    this.alive = false;
    if (wasUp && cause !== 'refused') {
      // Up (it said hello), then down: a flap. Counted each time; the window bounds them.
      this.stats.flaps++;
      metrics?.engineFlaps.inc();
    }
    const attempts = this.history.attempt;
    const decision = decideReconnect(now, cause, this.history, this.policy);
    this.history = decision.history;
    const { windowMs, maxReconnects } = this.policy;
    const inWindow = decision.history.reconnects.length;
    if (decision.kind === 'give_up') {
      if (decision.afterRetrying) metrics?.engineReconnects.inc({ ...this.reconnectLabels, result: 'gave_up' });
      const lostCause: LostCause = decision.cause;
      if (lostCause === 'flapping') {
        logger.error(
          { code, upMs, reconnects: inWindow, windowMs },
          'engine flapping: reconnect limit reached within the window',
        );
      }
      logger.error({ code, reason: reason.slice(0, 120), attempts, cause: lostCause }, 'engine session lost');
      this.finish();
      this.emit('lost', { code, reason, fatal: cause === 'refused', cause: lostCause } satisfies LinkLost);
      return;
    }
    const delay = decision.delayMs;
    const attempt = decision.history.attempt;
    this.stats.reconnects++;
    this.state = 'reconnecting';
    logger.warn(
      {
        code,
        attempt,
        delayMs: delay,
        cause,
        ...(wasUp ? { flap: true, upMs, reconnectsInWindow: inWindow, maxReconnects } : {}),
      },
      'engine closed abnormally; reconnecting',
    );
    this.emit('reconnecting', attempt);
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
