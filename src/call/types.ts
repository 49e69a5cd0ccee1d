/**
 * Types shared by the call session, the call record and call control. A leaf module: it imports
 * no module that imports it, so session ⇄ controller ⇄ record need no import cycle
 * (the rule: scripts/check-cycles.ts).
 */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { CallLabels } from '../observability/call-labels.js';
import type { TraceSpan } from '../observability/tracing.js';
import type { TelephonyLeg } from './leg.js';
import type { CallOutcome } from './outcome.js';
import type { Playback } from './playback.js';
import type { Turn } from './memory.js';
import type { ContextSender } from '../control/context-webhook.js';

/** What a transfer's context webhook needs of the bridge (src/control/context-webhook.ts). */
export interface TransferContextDeps {
  readonly sender: ContextSender;
  /** PUBLIC_URL: the call's console link is built on it */
  readonly publicUrl: string;
}

/** A transfer as the call record shows it. */
export interface TransferRecord {
  mode: 'cold' | 'warm';
  /** the configured target's name */
  target: string;
  /** started, accepted, or why a warm transfer did not connect (refused, no_answer, caller_hangup…) */
  result: string;
  /** the id the context webhook and the dial carry (a `<Parameter>`, a SIP `X-Context-Id`) */
  contextId?: string;
  /** warm: what the human heard, digit runs masked as in the transcript */
  whisper?: string;
  /** ms after the call started */
  startedAtMs: number;
  /** warm: when the human answered and the whisper began, ms after the call started */
  answeredAtMs?: number;
  /** warm: when the human accepted, ms after the call started */
  acceptedAtMs?: number;
  /** warm: from the agent's last word to the human accepting (or the attempt's end), ms */
  callerWaitMs?: number;
}

export interface CallInfo {
  callSid: string;
  agent: AgentConfig;
  from?: string;
  to?: string;
  direction?: string;
  /** how the call reached the bridge; unset: Twilio Media Streams (the records of which say nothing) */
  transport?: 'twilio' | 'sip';
  /** the configured SIP trunk the call came from (its `route` metric label when the number has no name) */
  trunk?: string;
}

/**
 * What call control (src/control/controller.ts) uses of its call: the session implements it.
 * Narrow on purpose, so that the controller depends on this list and not on CallSession.
 */
export interface CallControlPort {
  readonly callSid: string;
  readonly agent: AgentConfig;
  /** the call's metric labels (agent, route): configured names only */
  readonly labels: CallLabels;
  /** the call's root span (NO_SPAN when tracing is off): each verb is a child of it */
  readonly span: TraceSpan;
  readonly info: Pick<CallInfo, 'from' | 'to'>;
  readonly log: Logger;
  readonly record: {
    verb(verb: string, result: string): void;
    operator(action: 'hangup' | 'transfer', by: string): void;
    /** the call's transfer entry: a new one with `mode`, else an update of the current one */
    transfer(t: Partial<TransferRecord>): void;
    sinceStart(): number;
    /** the tools run so far, their results masked (the context webhook sends them) */
    toolsSoFar(): readonly { name: string; outcome: string; durationMs: number; result?: string }[];
  };
  readonly playback: Pick<
    Playback,
    'holding' | 'startHold' | 'stopHold' | 'whenPlayed' | 'pushPcm8k' | 'silence' | 'unmute'
  >;
  /** the call's telephony leg: every action on the phone call goes through it */
  readonly leg: TelephonyLeg;
  readonly deps: {
    readonly holdFor: (agentId: string) => Int16Array;
    readonly metrics: Metrics;
    /** the context webhook's sender and the console's base URL; absent: no context is sent */
    readonly transferContext?: TransferContextDeps;
  };
  /** what was said so far (a warm transfer's whisper quotes it) */
  readonly memory: { all(): readonly Turn[] };
  readonly isEnded: boolean;
  readonly hasStream: boolean;
  /** how the last stream ended without a restart: the caller hanging up (`caller_hangup`) or not */
  readonly streamEndOutcome: 'caller_hangup' | 'stream_closed';
  /**
   * A verb takes the call (`transferring`; `ending` for a hang-up or the fallback) or gives it back
   * to the agent (undefined): the call's phase (src/call/phase.ts) follows.
   */
  verbOwns(phase: 'transferring' | 'ending' | undefined): void;
  /** answers a verb that carried a `call_id` with a `tool_result` */
  reply(callId: string | undefined, name: string, output: unknown): void;
  end(outcome: CallOutcome): void;
}
