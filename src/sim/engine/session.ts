/**
 * One engine session: the server side of the Omni protocol for one socket. It checks everything
 * the client sends (violations are recorded, never fatal), takes turns on the caller's audio with an
 * energy VAD, speaks at real time, and yields to the caller at once on barge-in.
 */
import type { WebSocket } from 'ws';
import { StreamResampler } from '../../audio/index.js';
import { encodeAudioFrame } from '../../omni/framing.js';
import type { Logger } from '../../observability/logger.js';
import type { TtsResult } from '../../speech/tts.js';
import { parseClientMessage } from './inbound.js';
import { runEchoReply, runScenario, type CallerTurn, type ScenarioHost, type ToolResult } from './runner.js';
import type { Scenario } from './scenario.js';
import { AgentSpeaker, type PlayResult } from './speaker.js';
import type { PacingProfile, Uniform } from './pacing.js';
import { EnergyVad, type VadEdge, type VadOptions } from './vad.js';
import { Inbox } from './waits.js';
import { type EngineSessionRecord, newRecord, noteViolation } from './record.js';
import { renderSpeech } from './render.js';

export type EngineMode = 'scripted' | 'echo-agent' | 'loopback';
/**
 * 'standard' speaks the protocol as omni-protocol.md writes it; 'reference' has the habits of
 * PyAI's public reference server: `config_ack` instead of `configured`, `session_started` with a
 * rate-less `audio_out`, a `turn` event and a 0x02 transcript before each reply's audio.
 */
export type EngineDialect = 'standard' | 'reference';

export interface SessionSettings {
  callId: string;
  inputRate: number;
  outputRate: number;
  sessionLabel?: string;
  mode: EngineMode;
  scenario?: Scenario;
  greetingImmediately?: boolean;
  bargeInEvent: 'flush' | 'barge_in';
  vad?: VadOptions;
  pacing?: PacingProfile;
  random?: Uniform;
  dialect?: EngineDialect;
  /** keep the bytes of every audio message sent in the record (tests compare them with what the caller got) */
  recordAudio?: boolean;
  tts: (text: string) => Promise<TtsResult>;
  logger: Logger;
  onViolation: (violation: string) => void;
}

const MAX_EVENTS_RECORDED = 2000;
const DTMF_REPLY_DEBOUNCE_MS = 500;

export class EngineSession implements ScenarioHost {
  readonly record: EngineSessionRecord;
  readonly callerTurns = new Inbox<CallerTurn>();
  readonly digits = new Inbox<string>();
  readonly vars: Record<string, unknown> = {};
  expectedCallerLine: string | undefined;
  bargedIn = false;
  private readonly abort = new AbortController();
  private readonly speaker: AgentSpeaker;
  private readonly vad: EnergyVad;
  private readonly toolWaiters = new Map<string, (r: ToolResult) => void>();
  private readonly issuedCallIds = new Set<string>();
  private readonly answeredCallIds = new Set<string>();
  private readonly loopbackResampler: StreamResampler | undefined;
  private configured = false;
  private echoAgent = false;
  private turn = 0;
  private idSeq = 0;
  private lastCallerEndAt: number | undefined;
  private pendingDigits = '';
  private dtmfTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    private readonly s: SessionSettings,
  ) {
    this.record = newRecord(s);
    this.speaker = new AgentSpeaker((frame) => this.sendAudioFrame(frame), s.outputRate, {
      pacing: s.pacing,
      random: s.random,
    });
    this.vad = new EnergyVad(s.inputRate, this.onVadEdge, s.vad);
    if (s.mode === 'loopback' && s.outputRate !== s.inputRate) {
      this.loopbackResampler = new StreamResampler(s.inputRate, s.outputRate);
    }
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }
  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** Greets the client: hello first, then session_started (§3). */
  start(): void {
    const audioIn = `pcm16@${this.s.inputRate}`;
    const audioOut = `pcm16@${this.s.outputRate}`;
    this.send({
      event: 'hello',
      protocol: 2,
      audio_in: audioIn,
      audio_out: audioOut,
      call_id: this.s.callId,
      server: 'omni-offline',
    });
    const reference = this.s.dialect === 'reference';
    this.send({
      event: 'session_started',
      agent_id: 'offline-agent',
      audio_in: reference ? 'pcm16' : audioIn,
      audio_out: reference ? 'pcm16' : audioOut,
      call_id: this.s.callId,
    });
  }

  /** Entry point for every client message; never throws. */
  handleMessage(data: Buffer, isBinary: boolean): void {
    const msg = parseClientMessage(data, isBinary);
    switch (msg.kind) {
      case 'audio':
        if (!this.configured) return this.violate('audio before configure');
        this.record.audioFramesReceived++;
        this.record.audioMsReceived += (msg.pcm.length * 1000) / this.s.inputRate;
        if (this.s.recordAudio) (this.record.audioReceived ??= []).push(msg.pcm.slice());
        if (this.s.mode === 'loopback') return this.loopback(data, msg.pcm);
        this.vad.push(msg.pcm);
        return;
      case 'configure':
        this.record.configureCount++;
        if (this.configured) return this.violate('more than one configure');
        return this.onConfigure(msg.config);
      case 'dtmf':
        return this.onDtmf(msg.digit);
      case 'tool_result':
        return this.onToolResult(msg);
      case 'session_ending':
        this.send({ event: 'session_end' });
        return this.closeWith(1000, 'session ended');
      case 'violation':
        return this.violate(msg.violation);
    }
  }

  /** The socket is gone: stop speaking, end every wait. Idempotent. */
  dispose(code: number, reason: string, by: 'client' | 'engine'): void {
    if (this.closed) return;
    this.record.closed ??= { code, reason, by };
    this.abort.abort();
    this.speaker.interrupt();
    clearTimeout(this.dtmfTimer);
  }

  closeWith(code: number, reason = ''): void {
    if (this.closed) return;
    this.dispose(code, reason, 'engine');
    // 1006 cannot be sent in a close frame: the way to produce it is to drop the connection.
    if (code === 1006) this.ws.terminate();
    else this.ws.close(code, reason);
  }

  send(event: Record<string, unknown>): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(Buffer.from('\u0003' + JSON.stringify(event), 'utf8'));
    if (this.record.eventsSent.length < MAX_EVENTS_RECORDED) this.record.eventsSent.push(event);
  }

  /** A transcript on the 0x02 tag, as JSON. */
  private sendTranscriptFrame(t: { role: string; text: string; final: boolean }): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(Buffer.from('\u0002' + JSON.stringify(t), 'utf8'));
  }

  issueCallId(fixed: string | undefined, prefix: string): string {
    const id = fixed ?? `${prefix}_${++this.idSeq}`;
    this.issuedCallIds.add(id);
    this.answeredCallIds.delete(id); // a script may reuse a fixed id: each issue expects one answer
    return id;
  }

  /** Speaks `text`; resolves when it has been heard or cut off. Undefined once closed. */
  async say(text: string): Promise<PlayResult | undefined> {
    if (this.closed) return undefined;
    this.speaker.interrupt(); // the agent changing its mind is not a barge-in
    const samples = await renderSpeech(this.s.tts, text, this.s.outputRate);
    if (this.closed) return undefined;
    this.turn++;
    const since =
      this.lastCallerEndAt === undefined
        ? {}
        : { since_caller_end_ms: Math.round(performance.now() - this.lastCallerEndAt) };
    if (this.s.dialect === 'reference') {
      this.send({ event: 'turn', role: 'assistant', ...since });
      this.sendTranscriptFrame({ role: 'assistant', text, final: true });
    } else {
      this.send({ event: 'turn_begin', turn: this.turn, ...since });
      this.send({ event: 'transcript', role: 'assistant', text, final: true });
    }
    this.record.transcripts.push({ role: 'assistant', text });
    const result = await this.speaker.play(text, samples);
    this.record.audioMsSent += result.sentMs;
    // Telemetry keyed on `type`, as the real engine does: exercises the client's fallback.
    this.send({ type: 'audio_position', sent_ms: Math.round(result.sentMs), realtime_ms: Math.round(result.spokenMs) });
    return result;
  }

  waitToolResult(callId: string, timeoutMs: number): Promise<ToolResult | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (r: ToolResult | undefined): void => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', onAbort);
        this.toolWaiters.delete(callId);
        resolve(r);
      };
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => {
        this.violate(`no tool_result for call_id ${callId} within ${timeoutMs} ms`);
        done(undefined);
      }, timeoutMs);
      this.signal.addEventListener('abort', onAbort, { once: true });
      this.toolWaiters.set(callId, done);
    });
  }

  becomeEchoAgent(): void {
    this.echoAgent = true;
  }

  violate(violation: string): void {
    if (noteViolation(this.record, violation)) {
      this.s.logger.debug({ callId: this.s.callId, violation }, 'offline engine: protocol violation');
      this.s.onViolation(`${this.s.callId}: ${violation}`);
    }
  }

  private onConfigure(config: Record<string, unknown>): void {
    this.configured = true;
    this.record.config = config;
    const tools = Array.isArray(config.tools) ? config.tools.length : 0;
    const voiceId = typeof config.voice_id === 'string' ? config.voice_id : 'offline-kal16';
    if (this.s.dialect === 'reference') {
      const keys = Object.keys(config).filter((k) => k !== 'type');
      this.send({ event: 'config_ack', voice_id: voiceId, honored: keys, ignored: [] });
    } else {
      this.send({
        event: 'configured',
        voice_id: voiceId,
        greeting: typeof config.greeting === 'string' && config.greeting !== '',
        tools,
        audio_out: `pcm16@${this.s.outputRate}`,
      });
    }
    if (typeof config.greeting === 'string') this.vars.greeting = config.greeting;
    if (this.s.mode !== 'loopback') void this.runAgent(config);
  }

  private async runAgent(config: Record<string, unknown>): Promise<void> {
    try {
      const scripted = this.s.mode === 'scripted' && this.s.scenario !== undefined;
      this.echoAgent = !scripted;
      const greeting = config.greeting;
      if (typeof greeting === 'string' && greeting.trim() !== '' && this.s.greetingImmediately !== false) {
        await this.say(greeting);
      }
      if (scripted) await runScenario(this, this.s.scenario!);
    } catch (err) {
      if (!this.closed)
        this.s.logger.error({ err: (err as Error).message, callId: this.s.callId }, 'offline engine agent failed');
    }
  }

  private readonly onVadEdge = (edge: VadEdge): void => {
    if (edge.kind === 'speech_start') {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(Buffer.from('\u0002(caller speaking)', 'utf8'));
      const cut = this.speaker.interrupt();
      if (cut) {
        // Stop first, then tell: no agent frame can follow the flush on the wire.
        this.record.bargeIns++;
        this.bargedIn = true;
        this.send({ event: this.s.bargeInEvent });
        this.send({ event: 'assistant_interrupted', reply: cut.spokenText });
      }
      return;
    }
    const text = this.expectedCallerLine ?? `(caller spoke ${(edge.speechMs / 1000).toFixed(1)} s)`;
    this.lastCallerEndAt = performance.now();
    this.send({ event: 'transcript', role: 'user', text, final: true });
    this.record.transcripts.push({ role: 'user', text });
    const turn: CallerTurn = { speechMs: edge.speechMs, text };
    if (this.echoAgent) void runEchoReply(this, { kind: 'turn', turn });
    else this.callerTurns.push(turn);
  };

  private onDtmf(digit: string): void {
    this.record.dtmf.push(digit);
    this.send({ event: 'dtmf', digit });
    if (!this.echoAgent) return this.digits.push(digit);
    this.pendingDigits += digit;
    clearTimeout(this.dtmfTimer);
    this.dtmfTimer = setTimeout(() => {
      const digits = this.pendingDigits;
      this.pendingDigits = '';
      void runEchoReply(this, { kind: 'dtmf', digits });
    }, DTMF_REPLY_DEBOUNCE_MS);
  }

  private onToolResult(r: { callId: string; name: string; output: unknown }): void {
    this.record.toolResults.push({ callId: r.callId, name: r.name, output: r.output });
    if (!this.issuedCallIds.has(r.callId))
      return this.violate(`tool_result for unknown call_id ${r.callId.slice(0, 64)}`);
    if (this.answeredCallIds.has(r.callId))
      return this.violate(`second tool_result for call_id ${r.callId.slice(0, 64)}`);
    this.answeredCallIds.add(r.callId);
    this.toolWaiters.get(r.callId)?.({ name: r.name, output: r.output });
  }

  private sendAudioFrame(frame: Buffer): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(frame);
    if (this.s.recordAudio) (this.record.audioSent ??= []).push(Buffer.from(frame.subarray(1)));
  }

  /** Load-test path: the caller's frame goes straight back as agent audio, untouched when rates match. */
  private loopback(frame: Buffer, pcm: Int16Array): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (!this.loopbackResampler) {
      this.ws.send(frame);
      return;
    }
    this.ws.send(encodeAudioFrame(this.loopbackResampler.process(pcm)));
  }
}
