import type { CallOutcome } from './outcome.js';
import type { CallInfo, TransferRecord } from './types.js';
import { redactNumbers } from '../observability/redact.js';

/** One structured line per finished call: what happened, without secrets or audio. */
export interface CallRecord {
  callSid: string;
  agent: string;
  from?: string;
  to?: string;
  /** set by a leg other than Twilio's (`"sip"`) */
  transport?: 'twilio' | 'sip';
  /** Twilio's Direction: `inbound`, `outbound-api`… */
  direction?: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  outcome: CallOutcome;
  streams: string[];
  dtmf: string;
  bargeIns: number;
  /** `executor` and `server` are set for MCP tools (`executor: "mcp"`, the server's name) */
  tools: {
    name: string;
    outcome: string;
    durationMs: number;
    executor?: string;
    server?: string;
    /** arguments and result, masked (previewForPage): kept only with the transcript (`call_record_transcript`) */
    args?: string;
    result?: string;
  }[];
  verbs: { verb: string; result: string; atMs: number }[];
  /** an operator acted on the call: what, and who asked ('console', 'admin_api'…) */
  operator?: { action: 'hangup' | 'transfer'; by: string; atMs: number };
  /** supervisors who listened in (console): who, from when, for how long (absent: until the call ended) */
  listens?: { by: string; atMs: number; durationMs?: number }[];
  engineCloses: number[];
  /** the call's last transfer attempt (a warm one that failed leaves the call with the agent) */
  transfer?: TransferRecord;
  playback: {
    framesSent: number;
    framesPlayed: number;
    staleMarks: number;
    clears: number;
    /** times the caller's playout ran dry inside a reply, and the silence heard */
    underruns: number;
    underrunMs: number;
    /** per reply (the last 100): first audio → first frame sent, voice-to-voice, underruns */
    replies: { firstFrameMs?: number; voiceToVoiceMs?: number; underruns: number; underrunMs: number }[];
  };
  transcript?: { role: string; text: string; atMs: number }[];
  /** the call's trace (W3C trace id), when tracing is on */
  traceId?: string;
}

const MAX_ITEMS = 200;

export class CallRecordBuilder {
  private readonly started = Date.now();
  private readonly streams: string[] = [];
  private digits = '';
  private bargeIns = 0;
  private readonly tools: CallRecord['tools'] = [];
  private readonly verbs: CallRecord['verbs'] = [];
  private readonly closes: number[] = [];
  private operatorAction: CallRecord['operator'];
  private transferInfo: TransferRecord | undefined;
  private readonly listens: NonNullable<CallRecord['listens']> = [];

  /** told of every verb as it is recorded (the console's timeline) */
  onVerb: ((verb: string, result: string) => void) | undefined;

  constructor(
    private readonly info: CallInfo,
    /** the call's trace id, when tracing is on */
    private readonly traceId?: string,
  ) {}

  stream(sid: string): void {
    if (this.streams.length < MAX_ITEMS) this.streams.push(sid);
  }
  dtmf(d: string): void {
    if (this.digits.length < 256) this.digits += d;
  }
  bargeIn(): void {
    this.bargeIns++;
  }
  toolFinished(
    name: string,
    outcome: string,
    durationMs: number,
    executor?: string,
    server?: string,
    shown: { args?: string; result?: string } = {},
  ): void {
    if (this.tools.length >= MAX_ITEMS) return;
    this.tools.push({
      ...(executor === 'mcp'
        ? { name, outcome, durationMs: Math.round(durationMs), executor, server }
        : { name, outcome, durationMs: Math.round(durationMs) }),
      ...(shown.args !== undefined ? { args: shown.args } : {}),
      ...(shown.result !== undefined ? { result: shown.result } : {}),
    });
  }
  verb(verb: string, result: string): void {
    if (this.verbs.length < MAX_ITEMS) this.verbs.push({ verb, result, atMs: Date.now() - this.started });
    this.onVerb?.(verb, result);
  }
  /** An operator hung up or transferred the call (the last such action is kept). */
  operator(action: 'hangup' | 'transfer', by: string): void {
    this.operatorAction = { action, by, atMs: Date.now() - this.started };
    this.verb(`operator_${action}`, by);
  }
  /** The tools run so far (their results already masked and scrubbed by the runtime). */
  toolsSoFar(): readonly { name: string; outcome: string; durationMs: number; result?: string }[] {
    return this.tools;
  }
  /** ms since the call started, on the record's clock */
  sinceStart(): number {
    return Date.now() - this.started;
  }
  /** Starts (without startedAtMs: updates) the call's transfer entry. */
  transfer(t: Partial<TransferRecord>): void {
    const whisper = t.whisper !== undefined ? { whisper: redactNumbers(t.whisper) } : {};
    if (t.mode)
      this.transferInfo = { startedAtMs: this.sinceStart(), target: '', result: '', ...t, mode: t.mode, ...whisper };
    else if (this.transferInfo) this.transferInfo = { ...this.transferInfo, ...t, ...whisper };
  }
  /** A supervisor started listening in; the returned function records when they stopped. */
  listen(by: string): () => void {
    const entry: NonNullable<CallRecord['listens']>[number] = { by, atMs: Date.now() - this.started };
    if (this.listens.length < MAX_ITEMS) this.listens.push(entry);
    return () => {
      entry.durationMs ??= Date.now() - this.started - entry.atMs;
    };
  }
  engineClose(code: number): void {
    if (this.closes.length < MAX_ITEMS) this.closes.push(code);
  }

  finish(
    outcome: CallOutcome,
    s: {
      playback: { stats: Omit<CallRecord['playback'], 'replies'> & { replies: CallRecord['playback']['replies'] } };
      memory: { all(): readonly { role: string; text: string; atMs: number }[] };
      deps: { settings: { call_record_transcript: boolean } };
    },
  ): CallRecord {
    const now = Date.now();
    const { framesSent, framesPlayed, staleMarks, clears, underruns, underrunMs, replies } = s.playback.stats;
    const ms = (v: number | undefined) => (v === undefined ? undefined : Math.round(v));
    return {
      callSid: this.info.callSid,
      agent: this.info.agent.id,
      from: this.info.from,
      to: this.info.to,
      ...(this.info.transport ? { transport: this.info.transport } : {}),
      ...(this.info.direction ? { direction: this.info.direction } : {}),
      startedAt: new Date(this.started).toISOString(),
      endedAt: new Date(now).toISOString(),
      durationMs: now - this.started,
      outcome,
      streams: this.streams,
      dtmf: this.digits,
      bargeIns: this.bargeIns,
      // a tool's arguments and result are the conversation's content: kept with the transcript only
      tools: s.deps.settings.call_record_transcript
        ? this.tools
        : this.tools.map(({ args: _a, result: _r, ...t }) => t),
      verbs: this.verbs,
      ...(this.operatorAction ? { operator: this.operatorAction } : {}),
      ...(this.listens.length ? { listens: this.listens } : {}),
      engineCloses: this.closes,
      ...(this.transferInfo ? { transfer: this.transferInfo } : {}),
      playback: {
        framesSent,
        framesPlayed,
        staleMarks,
        clears,
        underruns,
        underrunMs: Math.round(underrunMs),
        replies: replies.map((r) => ({
          firstFrameMs: ms(r.firstFrameMs),
          voiceToVoiceMs: ms(r.voiceToVoiceMs),
          underruns: r.underruns,
          underrunMs: Math.round(r.underrunMs),
        })),
      },
      ...(s.deps.settings.call_record_transcript
        ? { transcript: s.memory.all().map((t) => ({ role: t.role, text: redactNumbers(t.text), atMs: t.atMs })) }
        : {}),
      ...(this.traceId ? { traceId: this.traceId } : {}),
    };
  }
}
