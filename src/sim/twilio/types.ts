import type { Logger } from '../../observability/logger.js';

/** Who did something, as shown in the timeline. `agent` is audio the bridge played. */
export type Actor = 'caller' | 'agent' | 'bridge' | 'twilio' | 'human';

export interface TimelineEntry {
  /** ms since the call was placed */
  atMs: number;
  /** the call's media clock (20 ms ticks) then; the frame holding `heard` sample i played at tick time (⌊i / 160⌋ + 1) × 20 */
  tickMs: number;
  who: Actor;
  what: string;
}

/**
 * One step of a caller script. Steps run in order; a step starts when the previous one is done
 * and its own conditions hold (`atMs`, `afterAgentSilenceMs`). Audio and DTMF steps also wait
 * until something listens (a media stream or a `<Gather>`), so words are not lost while the
 * stream is still connecting.
 */
export interface CallerAction {
  /** not before this many ms after the call was placed */
  atMs?: number;
  /** after the agent (what the caller hears) has spoken and then been quiet this long */
  afterAgentSilenceMs?: number;
  /** with afterAgentSilenceMs: how long to wait for the agent to speak at all before going on (15 s) */
  agentSpeechWaitMs?: number;
  /**
   * not before `ready()` holds (polled each 20 ms tick), e.g. the agent has asked its question;
   * checked before afterAgentSilenceMs. After `waitMs` (30 s) the step is skipped, noted as `what`
   * never happening: a caller that answers a question never asked is not a caller.
   */
  when?: { ready: () => boolean; what: string; waitMs?: number };
  /** speak this text (offline TTS) */
  say?: string;
  /** speak this WAV file (any rate, mono or stereo) */
  wav?: string;
  /** stay quiet this long */
  silenceMs?: number;
  /** press these digits, one `dtmf` event each, ~150 ms apart */
  dtmf?: string;
  /** loud noise this long (to barge in) */
  noiseMs?: number;
  /** hang up */
  hangup?: true;
}
export type CallerScript = CallerAction[];

export interface PlaceCallOptions {
  to: string;
  from: string;
  callSid?: string;
  caller?: CallerScript;
  statusCallbackUrl?: string;
  /** safety bound; the call ends with `timeout` after this long (default 120 s) */
  maxDurationMs?: number;
  /** default true; false runs the 20 ms clock as fast as the event loop allows */
  realtime?: boolean;
  /** the voice webhook, default `{publicUrl}/twilio/voice` */
  voiceUrl?: string;
  /** extra webhook params such as CallerName, ForwardedFrom, FromCity */
  extraParams?: Record<string, string>;
}

export interface StreamStats {
  streamSid: string;
  /** when `start` was sent (or the connection attempt began, if it failed) */
  startedAtMs: number;
  endedAtMs?: number;
  /** `stop` = Twilio ended it (hang-up / REST update), `bridge-close` = the bridge closed it */
  endedBy?: 'stop' | 'bridge-close' | 'connect-failed';
  customParameters: Record<string, string>;
  marksEchoed: number;
  clears: number;
  /** media messages received from the bridge */
  mediaMessages: number;
  /** media messages sent to the bridge */
  mediaSent: number;
  dtmfSent: number;
  /** ms of bridge audio discarded by `clear` */
  clearedMs: number;
}

export type EndedBy =
  | 'caller'
  | 'bridge-hangup'
  | 'rest-completed'
  | 'twiml-end'
  | 'timeout'
  | 'transfer-completed'
  /** a REST-created call the callee did not answer (busy, no-answer, failed) */
  | 'not-answered';

export interface DialRecord {
  target: string;
  result: 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';
  /** a `<Client>`'s `<Parameter>`s, as the human's Voice SDK would get them */
  params?: Record<string, string>;
}

export interface CallResult {
  callSid: string;
  /** 8 kHz PCM of everything the caller heard, in real time, silence included */
  heard: Int16Array;
  /** 8 kHz PCM of every sample the bridge sent, in order, without the playout's real-time gaps */
  received: Int16Array;
  timeline: TimelineEntry[];
  streams: StreamStats[];
  violations: string[];
  endedBy: EndedBy;
  durationMs: number;
  restUpdates: number;
  dialed?: DialRecord[];
}

export type CallEvent = 'timeline' | 'stream-start' | 'stream-end' | 'violation' | 'end';

export interface CallHandle {
  callSid: string;
  done: Promise<CallResult>;
  hangup(): void;
  sendDtmf(digits: string): void;
  say(text: string): void;
  /** the caller plays 8 kHz audio (a test tone) into the call, after anything already queued */
  play(pcm8k: Int16Array): void;
  timeline: TimelineEntry[];
  on(event: 'timeline', cb: (e: TimelineEntry) => void): void;
  on(event: 'stream-start' | 'stream-end', cb: (s: StreamStats) => void): void;
  on(event: 'violation', cb: (v: string) => void): void;
  on(event: 'end', cb: (r: CallResult) => void): void;
}

export interface HumanBehaviour {
  /** what the dialed party (or the callee of an outbound call) does */
  answer: 'answer' | 'busy' | 'no-answer' | 'failed';
  /** how long an answered human talks before hanging up (default 2000) */
  talkMs?: number;
  /** ringing before the outcome (default 1000; no-answer rings for the Dial timeout) */
  ringMs?: number;
  /**
   * What a REST-created callee does once answered, as a caller script (keys wait for a
   * `<Gather>`, words for a stream or a started conference): e.g. a warm transfer's human
   * pressing the accept key, then talking to the caller.
   */
  script?: CallerScript;
}

export interface SimulatorOptions {
  /** where HTTP and WebSocket connections really go, e.g. http://127.0.0.1:8080 */
  bridgeUrl: string;
  /** a fleet behind a balancer: each request goes to the next of these, round robin (bridgeUrl is then unused) */
  replicaUrls?: readonly string[];
  /** the bridge's PUBLIC_URL: URLs under it are signed as-is and connected to via bridgeUrl */
  publicUrl: string;
  accountSid: string;
  authToken: string;
  logger?: Logger;
  human?: HumanBehaviour;
  /** port of the fake REST API (default 0: chosen by the OS) */
  restPort?: number;
}

export interface RecordedRestRequest {
  atMs: number;
  method: string;
  path: string;
  /** Basic auth matched accountSid:authToken */
  authOk: boolean;
  form: Record<string, string | string[]>;
  status: number;
}

export interface TwilioSimulator {
  /** http://127.0.0.1:port — the fake REST API, for TWILIO_API_BASE */
  restBase: string;
  restRequests: RecordedRestRequest[];
  /** the replicas a fleet's requests are balanced over (replicaUrls), e.g. without one that died */
  setReplicas(urls: readonly string[]): void;
  /** what dialled humans and outbound callees do from now on */
  setHuman(h: HumanBehaviour): void;
  /** every call so far, inbound and REST-created, by CallSid */
  calls: Map<string, CallHandle>;
  placeCall(opts: PlaceCallOptions): CallHandle;
  close(): Promise<void>;
}
