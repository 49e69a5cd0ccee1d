/**
 * Types shared by the call session, the call record and call control. A leaf module: it imports
 * no module that imports it, so session ⇄ controller ⇄ record need no import cycle
 * (the rule: scripts/check-cycles.ts).
 */
import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { StreamTokens } from '../server/stream-token.js';
import type { TwilioRest } from '../twilio/rest.js';
import type { CallOutcome } from './outcome.js';
import type { Playback } from './playback.js';

export interface CallInfo {
  callSid: string;
  agent: AgentConfig;
  from?: string;
  to?: string;
  direction?: string;
}

/** The Twilio side of one stream, as the session sees it (the media route implements it). */
export interface MediaStreamHandle {
  readonly streamSid: string;
  /** one text message (a Buffer holds its UTF-8 bytes) */
  send(text: string | Buffer): void;
  /** bytes queued in the socket: the session drops agent audio rather than queue without bound */
  readonly bufferedAmount: number;
  close(): void;
}

/**
 * What call control (src/control/controller.ts) uses of its call: the session implements it.
 * Narrow on purpose, so that the controller depends on this list and not on CallSession.
 */
export interface CallControlPort {
  readonly callSid: string;
  readonly agent: AgentConfig;
  readonly info: Pick<CallInfo, 'from' | 'to'>;
  readonly log: Logger;
  readonly record: { verb(verb: string, result: string): void };
  readonly playback: Pick<Playback, 'holding' | 'startHold' | 'stopHold' | 'whenPlayed' | 'pushPcm8k'>;
  readonly deps: {
    readonly publicUrl: string;
    readonly rest?: TwilioRest;
    readonly holdFor: (agentId: string) => Int16Array;
    readonly streamTokens: Pick<StreamTokens, 'mint'>;
    readonly metrics: Metrics;
  };
  readonly isEnded: boolean;
  readonly hasStream: boolean;
  /** answers a verb that carried a `call_id` with a `tool_result` */
  reply(callId: string | undefined, name: string, output: unknown): void;
  end(outcome: CallOutcome): void;
}
