/**
 * What the TwiML executor, the dial verbs, the caller script and the webhooks use of one
 * simulated call (SimCall in call.ts implements it), with the shapes they share. A leaf module:
 * call.ts imports those four and they import only this, so there is no import cycle among them
 * (the rule: scripts/check-cycles.ts).
 */
import type { Logger } from '../../observability/logger.js';
import type { ConferenceMember, ConferenceRoom, SimConference } from './conference.js';
import type { CallClock } from './clock.js';
import type { DigitCollector } from './digits.js';
import type { UrlMapper } from './http.js';
import type { MediaStream } from './media-stream.js';
import type { SampleQueue } from './pcm.js';
import type { Actor, CallerScript, DialRecord, EndedBy, HumanBehaviour } from './types.js';

/** A TwiML document. */
export interface Doc {
  xml: string;
  /** the public URL it came from: relative URLs in it resolve against this */
  url: string;
}

/** What a verb tells the loop: continue (undefined), a replacement document, or stop. */
export type VerbOutcome = undefined | Doc | 'hangup' | 'stop';

/** What a call needs from the simulator that owns it. */
export interface CallEnv {
  accountSid: string;
  authToken: string;
  mapper: UrlMapper;
  logger: Logger;
  human: HumanBehaviour;
  /** the simulator's conferences: calls naming the same one meet there */
  conferences: ConferenceRoom;
}

export interface CallSetup {
  callSid?: string;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound-api';
  realtime: boolean;
  maxDurationMs: number;
  caller?: CallerScript;
  statusCallbackUrl?: string;
  /** which status events to POST (default: all four) */
  statusEvents?: string[];
  extraParams?: Record<string, string>;
  /** a REST-created call's `Timeout`: seconds it rings before no-answer */
  ringTimeoutS?: number;
}

/** The call as its verbs, its caller script and its webhooks see it. */
export interface SimCallPort {
  readonly callSid: string;
  readonly clock: CallClock;
  readonly env: CallEnv;
  readonly setup: CallSetup;
  readonly dialed: DialRecord[];
  /** audio of TwiML verbs (Say, Play, ringback…), heard when no stream plays */
  readonly verbAudio: SampleQueue;
  /** what the caller says, sent as media while a stream is up */
  readonly callerAudio: SampleQueue;
  gather: DigitCollector | undefined;
  lastDialCompleted: boolean;
  readonly ended: boolean;
  /** tick time of the last audible frame heard, and how many audible frames so far */
  readonly lastAudibleMs: number;
  readonly audibleFrames: number;
  readonly web: {
    fetch(url: string, base: string, extra: Record<string, string>, method?: string): Promise<Doc | null>;
  };
  note(who: Actor, what: string): void;
  violation(what: string): void;
  track<T>(p: Promise<T>): Promise<T>;
  end(by: EndedBy, finalStatus?: string): void;
  openStream(stream: MediaStream): void;
  onBridgeAudio(pcm: Int16Array): void;
  onStreamStarted(stream: MediaStream): void;
  onStreamEnded(stream: MediaStream): void;
  deliverDtmf(digit: string): void;
  listening(dtmf: boolean): boolean;
  /** this call as a conference sees it */
  readonly conferenceMember: ConferenceMember;
  /** the conference the call is in now (undefined: it left) */
  joinConference(c: SimConference | undefined): void;
}
