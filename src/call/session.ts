import type { AgentConfig, BridgeSettings } from '../config/schema.js';
import type { ConfigurePayload, OmniEvent } from '../omni/events.js';
import type { Logger } from '../observability/logger.js';
import type { CounterChild, HistogramChild } from '../observability/fast-metrics.js';
import type { Metrics } from '../observability/metrics.js';
import { callMeters, type CallMeters } from '../observability/call-meters.js';
import type { CallLabels } from '../observability/call-labels.js';
import { toolLabel } from '../tools/metrics.js';
import type { SocketTuning } from '../net/socket-tuning.js';
import type { ToolSet } from '../tools/registry.js';
import type { CallFeed, CallFeedHub, CallState } from '../observability/call-events.js';
import { ToolRuntime } from '../tools/runtime.js';
import { NO_TRACING, type TraceSpan, type Tracing } from '../observability/tracing.js';
import { CallTrace } from './call-trace.js';
import { CallControl } from '../control/controller.js';
import { EngineLink, type EngineLinkOptions, type LinkLost } from './engine-link.js';
import type { PaceClock } from './pace-clock.js';
import type { CallOutcome, FallbackReason } from './outcome.js';
import { ReplyWatch } from './reply-watch.js';
import { HoldPlayer } from '../audio/index.js';
import { InboundAudio } from './inbound.js';
import { ConversationMemory } from './memory.js';
import { Playback } from './playback.js';
import { buildConfigure } from './configure.js';
import { omniKeyFor, type OmniKeySource } from '../omni/key-policy.js';
import { CallRecordBuilder, type CallRecord } from './record.js';
import type { CallControlPort, CallInfo, TransferContextDeps } from './types.js';
import { LEG_FRAME_BYTES, type LegListener, type LegMedia, type TelephonyLeg } from './leg.js';
import { CallPhaseState, withAgent, type CallPhase } from './phase.js';
import type { Turn } from './memory.js';

export type { CallInfo } from './types.js';
export type { CallPhase } from './phase.js';

/** A call that continues an earlier one (a failed transfer, a moved call): what its agent is told and knows. */
export interface CallResume {
  /** why the call is back, for the agent; empty: nothing to say */
  note?: string;
  /** the conversation so far */
  turns?: readonly Turn[];
}

export interface SessionDeps {
  settings: BridgeSettings;
  /** baseUrlFor: an engine base URL of the agent's own (the offline engine's per-agent scenario) */
  engine: OmniKeySource & { rate: 8000 | 16000 | 24000; baseUrlFor?: (agentId: string) => string | undefined };
  /** the call's telephony leg (its control; its media attach as streams): built once per call */
  legFor: (info: CallInfo, log: Logger) => TelephonyLeg;
  /** builds the engine link of each engine session (tests put an in-process engine here) */
  engineLink?: (opts: EngineLinkOptions) => EngineLink;
  /** the tools of an agent's configuration (the one the call started with: a reload does not change them) */
  toolsFor: (agent: AgentConfig) => ToolSet | undefined;
  /** shared reads and write coalescing for the engine sockets (src/net/socket-tuning.ts) */
  sockets?: SocketTuning;
  /** the agent's hold loop at 8 kHz (its WAV resampled once at load, or the generated default) */
  holdFor: (agentId: string) => Int16Array;
  /** the context webhook of transfers (src/control/context-webhook.ts); absent: none is sent */
  transferContext?: TransferContextDeps;
  logger: Logger;
  metrics: Metrics;
  /** paces caller-bound audio; one for the whole bridge, so all calls share one timer */
  paceClock: PaceClock;
  /** the operator console's live feed (src/observability/call-events.ts); none: nothing is published */
  feeds?: CallFeedHub;
  /** call traces (src/observability/tracing.ts); default: off */
  tracing?: Tracing;
  onEnded: (s: CallSession, record: CallRecord) => void;
  /** every move of the call's phase (tests watch it; the bridge needs nothing more than the log) */
  onPhase?: (from: CallPhase, to: CallPhase) => void;
}

/** Longest wait for a leg's answer to a control request after its stream stopped (Twilio REST: timeout + deadline + margin). */
const VERB_ANSWER_WAIT_MS = 8000;
/** The call's outcome when the engine link gives up, by why it did. */
const LOST_OUTCOME: Record<LinkLost['cause'], FallbackReason> = {
  refused: 'engine_refused',
  closed: 'engine_lost',
  silent: 'engine_silent',
  flapping: 'engine_flapping',
};

/**
 * One phone call: the only place where the telephony leg (src/call/leg.ts) and the Omni engine
 * meet. It lives from the voice webhook (when the engine is pre-connected) or the first stream,
 * across stream restarts (a leg's own, a failed transfer), until the call ends. All of its
 * state is here, keyed by CallSid in the registry — nothing is global, so calls never see each other.
 * Where the call is in its life is one value, `phase` (src/call/phase.ts, with its table).
 */
export class CallSession implements CallControlPort, LegListener {
  readonly log: Logger;
  readonly playback: Playback;
  readonly memory = new ConversationMemory();
  readonly record: CallRecordBuilder;
  readonly control: CallControl;
  readonly leg: TelephonyLeg;
  /** this call's live feed for the console, when the bridge has one */
  readonly feed: CallFeed | undefined;
  /** the call's connection to the engine, across reconnects: one per call, made with the session */
  readonly engine: EngineLink;
  /** the call's spans (NO_SPAN when tracing is off) */
  private readonly trace: CallTrace;
  private readonly inbound: InboundAudio;
  private readonly tools: ToolRuntime | undefined;
  /** The tools of the call's agent (as configured when it started); released when the call ends. */
  private toolSet: ToolSet | undefined;
  /** where the call is in its life; moved only through the table of src/call/phase.ts */
  private readonly phaseState: CallPhaseState;
  /** how the call ended, once it has */
  private endedAs: CallOutcome | undefined;
  /** the attached media stream (the handle; whether the call streams is the phase) */
  private stream: LegMedia | undefined;
  /** why the last stream ended (`stop`: the far end hung up), for the outcome of a call that cannot go on */
  private lastStreamEnd: string | undefined;
  /** silence to the engine while no stream is attached (its clocks run on caller audio) */
  private keepalive: NodeJS.Timeout | undefined;
  /** the bound on a wait for a stream (pre-connect, a restart) or for a verb's answer after its stream stopped */
  private streamWait: NodeJS.Timeout | undefined;
  private readonly maxDuration: NodeJS.Timeout;
  /** the reply deadline: bounds the engine's silence while the caller waits (src/call/reply-watch.ts) */
  private readonly replies: ReplyWatch;
  private streamCount = 0;
  private lastStatusSeq = -1;
  private readonly unknownEvents = new Set<string>();
  /** the call's per-agent metrics, bound to its agent and route once (src/observability/call-labels.ts) */
  private readonly perAgent: CallMeters;
  /** the per-frame metrics, bound to their label once per call */
  private readonly meter: {
    /** frames from and to the leg (labels from_twilio / to_twilio, as dashboards know them) */
    fromCaller: CounterChild;
    toCaller: CounterChild;
    fromEngine: CounterChild;
    inbound: HistogramChild;
    outbound: HistogramChild;
  };
  readonly startedAt = Date.now();
  private answerableResolve: (() => void) | undefined;
  /** Resolves once the engine is ready and, for an agent with a greeting, its first audio came. */
  readonly answerable = new Promise<void>((resolve) => (this.answerableResolve = resolve));

  constructor(
    readonly info: CallInfo,
    readonly deps: SessionDeps,
    resume?: CallResume,
  ) {
    this.perAgent = callMeters(
      deps.metrics,
      deps.metrics.callLabels.of({ agentId: info.agent.id, to: info.to, trunk: info.trunk }),
    );
    this.trace = new CallTrace(deps.tracing ?? NO_TRACING, info, this.perAgent.labels);
    const traceId = this.trace.traceId;
    // a traced call's log lines carry its trace id, so a log line leads to the trace and back
    this.log = deps.logger.child({ callSid: info.callSid, agent: info.agent.id, ...(traceId ? { traceId } : {}) });
    this.phaseState = new CallPhaseState({
      moved: (from, to) => {
        this.log.debug({ from, to }, 'call phase');
        deps.onPhase?.(from, to);
      },
      // A move the table does not allow is a bug in the caller of `to`: reported, the call goes on.
      refused: (from, to) => this.log.error({ from, to }, 'call phase: move refused (not in the table)'),
    });
    for (const t of resume?.turns ?? []) this.memory.add(t.role, t.text, t.atMs);
    const { frames, addedLatency } = deps.metrics;
    this.meter = {
      fromCaller: frames.labels('from_twilio'),
      toCaller: frames.labels('to_twilio'),
      fromEngine: frames.labels('from_engine'),
      inbound: addedLatency.labels('inbound'),
      outbound: addedLatency.labels('outbound'),
    };
    this.record = new CallRecordBuilder(info, traceId);
    this.leg = deps.legFor(info, this.log);
    this.feed = deps.feeds?.open({ callSid: info.callSid, agent: info.agent.id, from: info.from }, () =>
      this.liveState(),
    );
    if (this.feed) this.record.onVerb = (verb, result) => this.feed!.timeline('verb', verb, result);
    this.playback = new Playback({
      leadMs: deps.settings.playback_lead_ms,
      maxJitterMs: deps.settings.playout_jitter_max_ms,
      clock: deps.paceClock,
      onDrop: (n) => deps.metrics.framesDropped.inc({ direction: 'to_twilio', reason: 'playback_queue_full' }, n),
      observer: {
        firstFrame: (delayMs, v2vMs) => {
          deps.metrics.replyFirstFrame.observe(delayMs / 1000);
          this.feed?.latency(delayMs, v2vMs);
          if (v2vMs !== undefined && v2vMs >= 0) this.perAgent.voiceToVoice.observe(v2vMs / 1000);
        },
        underrun: (silenceMs) => {
          this.perAgent.underruns.inc();
          this.perAgent.underrunSeconds.inc(silenceMs / 1000);
          this.log.debug({ silenceMs: Math.round(silenceMs) }, 'playout underrun: the engine fell behind real time');
        },
      },
      onHold: (active) => this.onHoldAudio(active),
    });
    this.inbound = new InboundAudio(this.engineRate, (frame) => this.engine.sendAudio(frame));
    this.control = new CallControl(this);
    this.replies = this.createReplyWatch();
    const agent = info.agent;
    this.toolSet = deps.toolsFor(agent);
    const note = resume?.note;
    const configure = buildConfigure(agent, this.toolSet, note ? { note, summary: this.memory.summary() } : undefined);
    this.engine = this.createEngineLink(configure);
    this.tools = this.createTools(this.toolSet);
    this.maxDuration = setTimeout(
      () => void this.control.giveUp('max_duration'),
      deps.settings.max_call_duration_s * 1000,
    );
    this.maxDuration.unref();
  }

  get callSid(): string {
    return this.info.callSid;
  }

  /** The call's root span: verbs and tools hang their spans under it. */
  get span(): TraceSpan {
    return this.trace.span;
  }

  /** The call's `agent` and `route` metric labels: configured names only, resolved when it started. */
  get labels(): CallLabels {
    return this.perAgent.labels;
  }

  get agent(): AgentConfig {
    return this.info.agent;
  }

  get engineRate(): 8000 | 16000 | 24000 {
    return this.info.agent.engine.rate ?? this.deps.engine.rate;
  }

  /** Where the call is in its life (src/call/phase.ts). */
  get phase(): CallPhase {
    return this.phaseState.now;
  }

  get isEnded(): boolean {
    return this.phaseState.now === 'ended';
  }

  /** How the call ended; undefined while it has not. */
  get outcome(): CallOutcome | undefined {
    return this.endedAs;
  }

  get hasStream(): boolean {
    return this.stream !== undefined;
  }

  get streamEndOutcome(): 'caller_hangup' | 'stream_closed' {
    return this.lastStreamEnd === 'stop' ? 'caller_hangup' : 'stream_closed';
  }

  /** Media streams attached so far (0 while a pre-connected session waits for its first). */
  get streamsAttached(): number {
    return this.streamCount;
  }

  get streamSid(): string | undefined {
    return this.stream?.id;
  }

  /** Opens the engine session (at the webhook when pre-connecting, else at the stream's `start`). */
  startEngine(): void {
    this.trace.engineStarting();
    this.engine.start();
    if (!this.stream) this.startKeepalive();
  }

  /** The call's engine link, listened to for the call's whole life; `configure` opens its first session. */
  private createEngineLink(configure: ConfigurePayload): EngineLink {
    const agent = this.info.agent;
    const baseUrl = agent.engine.base_url ?? this.deps.engine.baseUrlFor?.(agent.id) ?? this.deps.engine.baseUrl;
    const link = (this.deps.engineLink ?? ((o) => new EngineLink(o)))({
      baseUrl,
      // An agent's own base_url comes from the file: the key goes only where omniKeyFor allows.
      apiKey: omniKeyFor(baseUrl, this.deps.engine),
      rate: this.engineRate,
      sessionLabel: agent.engine.session_label ?? `call-${this.callSid}`,
      configure,
      connectTimeoutMs: this.deps.settings.engine_connect_timeout_ms,
      maxPendingMs: this.deps.settings.max_pending_caller_ms,
      contextSummary: () => this.memory.summary(),
      helloTimeoutMs: agent.engine.hello_timeout_ms,
      maxReconnects: agent.engine.max_reconnects,
      reconnectWindowMs: agent.engine.reconnect_window_ms,
      sockets: this.deps.sockets,
      onAudio: (pcm, rate) => this.onAgentAudio(pcm, rate),
      logger: this.log,
      metrics: this.deps.metrics,
      labels: this.perAgent.labels,
    });
    this.trace.watchEngine(link);
    link.on('event', (ev: OmniEvent) => this.onEngineEvent(ev));
    link.on('reconnecting', () => {
      this.replies.clear(); // the next engine session owes nothing it has not heard
      this.control.onEngineReconnecting();
    });
    link.on('ready', () => {
      if (!configure.greeting) this.markAnswerable();
      // The greeting is due once the engine said hello (first session only: a resumed one has none).
      else if (this.answerableResolve && link.stats.reconnects === 0) this.replies.owe('greeting');
      this.control.onEngineReady();
    });
    link.on('ended', (code: number) => this.onEngineEnded(code));
    link.on('lost', (e: LinkLost) => {
      this.record.engineClose(e.code);
      void this.control.giveUp(LOST_OUTCOME[e.cause]);
    });
    return link;
  }

  /** The agent's tools for this call, their results sent on the engine link. */
  private createTools(toolSet: ToolSet | undefined): ToolRuntime | undefined {
    if (!toolSet) return undefined;
    const agent = this.info.agent;
    return new ToolRuntime(toolSet, {
      ceilingMs: this.deps.settings.tool_ceiling_ms,
      context: { callSid: this.callSid, agentId: agent.id, from: this.info.from, to: this.info.to },
      send: (callId, name, output) => {
        // outputs are not recorded: they may hold customer data
        this.engine.sendToolResult(callId, name, output);
      },
      logger: this.log,
      trace: this.trace.span,
      observer: {
        onToolFinished: (e) => {
          this.deps.metrics.tools.onToolFinished({ ...e, tool: toolLabel(agent, e) }, this.perAgent.labels);
          this.record.toolFinished(e.tool, e.outcome, e.durationMs, e.executor, e.server, e);
          // what it was given and gave back, masked, where the records keep them too (the transcript setting)
          const detail = this.deps.settings.call_record_transcript ? { args: e.args, output: e.result } : undefined;
          this.feed?.timeline('tool', e.tool, e.outcome, e.durationMs, detail);
        },
      },
    });
  }

  /** The engine's clocks run on caller audio: while no stream is attached it gets silence. */
  private startKeepalive(): void {
    if (this.keepalive) return;
    let next = performance.now() + 20;
    this.keepalive = setInterval(() => {
      const now = performance.now();
      while (next <= now) {
        this.inbound.pushSilenceMs(20);
        next += 20;
      }
    }, 20);
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  /** Waits (bounded) for a media stream: after pre-connect, or across a stream restart. */
  awaitStream(timeoutMs: number, reason: string): void {
    if (this.streamWait) clearTimeout(this.streamWait);
    this.streamWait = setTimeout(() => {
      this.streamWait = undefined;
      if (this.stream || this.isEnded) return;
      this.log.warn({ reason, timeoutMs }, 'no media stream arrived; closing the session');
      if (reason === 'preconnect') this.deps.metrics.preconnect.inc({ result: 'expired' });
      this.end('no_stream');
    }, timeoutMs);
  }

  attachStream(stream: LegMedia): void {
    if (this.stream && this.stream !== stream) this.stream.close();
    this.stream = stream;
    this.streamCount++;
    if (this.streamWait) clearTimeout(this.streamWait);
    this.streamWait = undefined;
    this.stopKeepalive();
    this.inbound.resetTimeline();
    // A verb that owns the call keeps it (a transfer's failed dial brings a stream back to it).
    if (withAgent(this.phase)) this.phaseState.to(this.agentPhase());
    this.log.info({ streamSid: stream.id }, 'media stream attached');
    this.record.stream(stream.id);
    const sent = this.meter.toCaller;
    this.playback.attach({
      backlogged: () => stream.backlogged(),
      sendAudio: (mu) => {
        stream.sendAudio(mu); // one chunk may carry several 20 ms frames
        if (this.feed?.watched) this.feed.outLevel.add(mu); // O(1): a few bytes, only while watched
        const tap = this.feed?.tap; // a copy for a supervisor listening in, only while one does
        if (tap) tap.add(1, mu);
        sent.inc(mu.length / LEG_FRAME_BYTES);
      },
      sendMark: (name) => stream.sendMark(name),
      sendClear: () => stream.sendClear(),
    });
    this.leg.mediaAttached();
  }

  /** One chunk of caller audio; `mulaw` may be a reused buffer: it is consumed, not kept. */
  onMedia(mulaw: Uint8Array, timestampMs: number | undefined): void {
    if (this.isEnded) return;
    const t0 = performance.now();
    this.inbound.pushMulaw(mulaw, timestampMs, t0);
    if (this.feed?.watched) this.feed.inLevel.add(mulaw); // O(1): a few bytes, only while watched
    const tap = this.feed?.tap; // copied, never kept: `mulaw` may be a reused buffer
    if (tap) tap.add(0, mulaw);
    this.meter.fromCaller.inc();
    this.meter.inbound.observe((performance.now() - t0) / 1000);
  }

  onDtmf(digit: string): void {
    if (this.isEnded) return;
    this.record.dtmf(digit);
    this.feed?.dtmf(digit, this.control.collecting);
    if (this.control.onCallerDigit(digit)) return; // a bridge shortcut took it
    this.engine.sendDtmf(digit);
  }

  onMark(name: string): void {
    this.playback.onMark(name);
  }

  /** The leg's stream ended (`stop` from the far end, or its transport closed). */
  onStreamEnded(stream: LegMedia, why: string): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.lastStreamEnd = why;
    this.playback.detach();
    if (this.isEnded) return;
    const restart = this.leg.mediaRestartMs();
    if (restart > 0) {
      this.log.info({ why, waitMs: restart }, 'stream ended; waiting for its restart');
      if (withAgent(this.phase)) this.phaseState.to('awaiting_restart'); // a verb's call stays the verb's
      this.startKeepalive();
      this.awaitStream(restart, 'restart');
      return;
    }
    const owned = this.control.pendingOutcome;
    if (owned) {
      // A verb's request to the leg stopped the stream before its answer arrived: the verb ends the
      // call on that answer (so its tool_result still reaches the engine), bounded by this timer.
      if (this.streamWait) clearTimeout(this.streamWait);
      this.streamWait = setTimeout(() => this.end(this.control.pendingOutcome ?? owned), VERB_ANSWER_WAIT_MS);
      return;
    }
    this.end(this.streamEndOutcome);
  }

  /** Resolves `answerable` once; dropping the resolver keeps the per-frame path off the promise machinery. */
  private markAnswerable(): void {
    const resolve = this.answerableResolve;
    this.answerableResolve = undefined;
    resolve?.();
  }

  private onAgentAudio(pcm: Int16Array, rate: number): void {
    if (this.isEnded) return;
    const t0 = performance.now();
    if (this.answerableResolve) this.markAnswerable();
    this.replies.answered();
    this.playback.pushAgentAudio(pcm, rate);
    this.meter.fromEngine.inc();
    this.meter.outbound.observe((performance.now() - t0) / 1000);
  }

  private onEngineEvent(ev: OmniEvent): void {
    if (this.isEnded) return;
    this.replies.onEvent(ev);
    switch (ev.type) {
      case 'barge_in':
        this.deps.metrics.bargeIns.inc();
        this.record.bargeIn();
        this.feed?.timeline('barge_in', 'caller', 'agent cut off');
        this.playback.bargeIn();
        return;
      case 'transcript':
        if (ev.final) {
          this.memory.add(ev.role, ev.text, Date.now() - this.startedAt);
          this.feed?.transcript(ev.role, ev.text);
        }
        this.log.debug({ role: ev.role, final: ev.final, chars: ev.text.length }, 'transcript');
        return;
      case 'assistant_interrupted':
        if (ev.reply) this.memory.replaceLastAssistant(ev.reply);
        return;
      case 'tool_call':
        if (this.tools) this.tools.handle({ callId: ev.callId, name: ev.name, arguments: ev.arguments });
        else this.engine.sendToolResult(ev.callId, ev.name, { error: 'unknown_tool', name: ev.name });
        return;
      case 'transfer_to_human':
      case 'send_dtmf':
      case 'play_hold':
      case 'collect':
      case 'end_call':
        void this.control.handleVerb(ev);
        return;
      case 'turn_begin':
        // A reply starts: its audio is a new reply even if it follows the last one closely.
        if (ev.role !== 'user')
          this.playback.markTurn(
            ev.sinceCallerEndMs !== undefined ? performance.now() - ev.sinceCallerEndMs : undefined,
          );
        return;
      case 'configured':
        // An engine that says it will not greet is not waited for by the answer (answer_wait_ms);
        // the reply deadline reads the same event (reply-watch.ts).
        if (this.answerableResolve && (ev.greeting === false || ev.ignored?.includes('greeting')))
          this.markAnswerable();
        return;
      case 'unknown':
        this.deps.metrics.engineUnknownEvents.inc();
        // Once per type per call (bounded): an engine that invents events cannot flood the log.
        if (this.unknownEvents.size < 16 && !this.unknownEvents.has(ev.name)) {
          this.unknownEvents.add(ev.name);
          this.log.info({ event: ev.name }, 'engine event of an unknown type ignored (logged once per call)');
        }
        return;
      case 'warning':
      case 'error':
        this.log.warn({ code: ev.code, message: ev.message?.slice(0, 200) }, `engine ${ev.type}`);
        return;
      case 'session_end':
        this.engine.end();
        return;
      default:
        this.log.debug({ event: ev.type }, 'engine event');
    }
  }

  /** The engine finished normally: let the last words play, then release the stream. */
  private onEngineEnded(code: number): void {
    if (this.isEnded) return;
    this.record.engineClose(code);
    if (!withAgent(this.phase)) return; // a verb (end_call, transfer) owns the call's ending
    void this.playback.whenPlayed(this.info.agent.end_call.max_wait_for_goodbye_ms).then(() => {
      if (this.isEnded) return;
      this.end('engine_ended');
    });
  }

  /** Hold audio started or ended (playback): a call with the caller is on hold while it plays. */
  private onHoldAudio(active: boolean): void {
    const phase = this.phaseState.now;
    if (active ? phase === 'streaming' : phase === 'on_hold') this.phaseState.to(active ? 'on_hold' : 'streaming');
  }

  /** Where a call with the agent is, now: streaming (on hold while hold audio plays), or waiting for a stream. */
  private agentPhase(): CallPhase {
    if (this.stream) return this.playback.holding ? 'on_hold' : 'streaming';
    return this.streamCount === 0 ? 'connecting' : 'awaiting_restart';
  }

  /** A verb takes the call (`transferring`, `ending`) or gives it back to the agent (undefined). */
  verbOwns(phase: 'transferring' | 'ending' | undefined): void {
    if (this.isEnded) return;
    this.phaseState.to(phase ?? this.agentPhase());
  }

  /** Status callbacks may arrive out of order; returns false for one older than the last seen. */
  acceptStatus(status: string, seq: number | undefined): boolean {
    if (seq !== undefined) {
      if (seq <= this.lastStatusSeq) return false;
      this.lastStatusSeq = seq;
    }
    this.record.verb('status', status);
    return true;
  }

  /** Sends a `tool_result` for a verb that carried a call_id (none otherwise). */
  reply(callId: string | undefined, name: string, output: unknown): void {
    if (!callId || this.isEnded) return;
    this.engine.sendToolResult(callId, name, output);
  }

  /** The reply deadline of this call's agent (what "the caller waits" means: reply-watch.ts). */
  private createReplyWatch(): ReplyWatch {
    const e = this.info.agent.engine;
    return new ReplyWatch({
      timeoutMs: e.reply_timeout_ms ?? 8000,
      holdMs: e.reply_hold_ms ?? 3000,
      excuse: () => this.replyExcuse(),
      agentSpeaking: () => this.playback.queuedMs > 0,
      onMissed: ({ owedBy, waitedMs }) => {
        this.log.warn(
          { owedBy, waitedMs, holdMs: e.reply_hold_ms },
          'engine silent while the caller waits: hold audio, then the fallback',
        );
        this.deps.metrics.engineDeadlines.inc({ deadline: 'reply' });
        this.record.verb('reply_deadline', 'missed');
        this.playback.startHold(new HoldPlayer(this.deps.holdFor(this.info.agent.id), 8000));
      },
      onRecovered: ({ lateMs }) => {
        this.log.info({ lateMs }, 'engine answered after the reply deadline; the call goes on');
        this.record.verb('reply_deadline', 'recovered');
      },
      onGiveUp: () => void this.control.giveUp('engine_unresponsive'),
    });
  }

  /** What the call is doing, for the console (sampled a few times a second, only while watched). */
  private liveState(): CallState {
    switch (this.phaseState.now) {
      case 'transferring':
        return 'transferring';
      case 'ending':
      case 'ended':
        return 'ending';
      case 'connecting':
        return 'connecting';
      case 'on_hold':
        return 'holding';
      case 'awaiting_restart':
        return 'restarting';
      case 'streaming':
        break;
    }
    // Streaming: what the caller hears comes first; the agent speaking while a tool runs is speaking.
    if (this.playback.audible) return this.memory.all().some((t) => t.role === 'user') ? 'agent_speaking' : 'greeting';
    if ((this.tools?.running ?? 0) > 0) return 'tool_running';
    if (this.control.collecting) return 'collecting';
    return this.answerableResolve ? 'greeting' : 'listening';
  }

  /** Why silence from the engine is legitimate now; undefined when the caller is simply waiting. */
  private replyExcuse(): string | undefined {
    if (!this.stream) return 'no_stream';
    if (!this.engine.engineAlive) return 'engine_not_up'; // the hello deadline and reconnects own this
    if (!withAgent(this.phase)) return 'verb';
    if (this.control.collecting) return 'collect';
    if (this.playback.holding) return 'hold';
    if (this.playback.queuedMs > 0) return 'playing'; // agent words (or DTMF tones) still going out
    if ((this.tools?.running ?? 0) > 0) return 'tool';
    return undefined;
  }

  /** Ends the call on the bridge's side: tools aborted, engine closed, stream released. */
  end(outcome: CallOutcome): void {
    if (this.isEnded) return;
    this.endedAs = outcome;
    this.phaseState.to('ended');
    this.replies.stop();
    this.tools?.abortAll();
    this.toolSet?.release?.();
    this.toolSet = undefined;
    this.control.dispose();
    this.stopKeepalive();
    if (this.streamWait) clearTimeout(this.streamWait);
    clearTimeout(this.maxDuration);
    this.engine.end();
    this.playback.close();
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    this.log.info({ outcome, durationMs: Date.now() - this.startedAt }, 'call ended');
    this.trace.end(outcome);
    if (this.feed) this.deps.feeds?.close(this.feed, outcome);
    this.deps.onEnded(this, this.record.finish(outcome, this));
  }
}
