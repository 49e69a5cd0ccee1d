import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import { CallClock, TICK_MS } from './clock.js';
import type { DigitCollector } from './digits.js';
import { type UrlMapper, signedRequest } from './http.js';
import { MediaStream, newSid } from './media-stream.js';
import { PcmRecorder, SampleQueue, peak } from './pcm.js';
import { runDocuments, type Doc } from './executor.js';
import { runScript } from './script.js';
import { speak } from './sounds.js';
import { sketchTwiml, parseTwiml } from './twiml-parser.js';
import type {
  Actor, CallHandle, CallResult, CallerScript, DialRecord, EndedBy, HumanBehaviour, StreamStats, TimelineEntry,
} from './types.js';

/** What a call needs from the simulator that owns it. */
export interface CallEnv {
  accountSid: string;
  authToken: string;
  mapper: UrlMapper;
  logger: Logger;
  human: HumanBehaviour;
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
}

/** Audible: what counts as "somebody talks" in what the caller hears. */
const AUDIBLE_PEAK = 400;
/** The agent is "silent" after this much quiet (a pause inside a sentence is shorter). */
const SPEECH_HANGOVER_MS = 300;
const MAX_VIOLATIONS = 200;

/**
 * One simulated call: its clock, what the caller says and hears, its current media stream,
 * its TwiML execution and its result. The 20 ms tick is the only place audio moves.
 */
export class SimCall {
  readonly callSid: string;
  readonly clock: CallClock;
  readonly timeline: TimelineEntry[] = [];
  readonly violations: string[] = [];
  readonly streams: StreamStats[] = [];
  readonly dialed: DialRecord[] = [];
  /** audio of TwiML verbs (Say, Play, ringback…), heard when no stream plays */
  readonly verbAudio = new SampleQueue();
  /** what the caller says, sent as media while a stream is up */
  readonly callerAudio = new SampleQueue();
  stream: MediaStream | undefined;
  gather: DigitCollector | undefined;
  restUpdates = 0;
  lastDialCompleted = false;
  ended = false;
  endedBy: EndedBy | undefined;
  /** tick time of the last audible frame heard, and how many audible frames so far */
  lastAudibleMs = -Infinity;
  audibleFrames = 0;
  readonly done: Promise<CallResult>;

  private resolveDone!: (r: CallResult) => void;
  private readonly emitter = new EventEmitter();
  private readonly heard = new PcmRecorder();
  private readonly inFrame = new Int16Array(160);
  private readonly outFrame = new Int16Array(160);
  private docCtl: AbortController | undefined;
  private agentSpeaking = false;
  private statusSeq = 0;
  private answeredAtMs = 0;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(readonly env: CallEnv, readonly setup: CallSetup, readonly voiceUrl: string) {
    this.callSid = setup.callSid ?? newSid('CA');
    this.clock = new CallClock(setup.realtime, () => this.tick());
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  // --- timeline, violations, events ---------------------------------------------------------

  /** A listener's mistake must not break the call's clock or the simulator. */
  private emit(event: string, arg: unknown): void {
    try {
      this.emitter.emit(event, arg);
    } catch (err) {
      this.env.logger.warn({ err, event }, 'simulator event listener threw');
    }
  }

  note(who: Actor, what: string): void {
    const e: TimelineEntry = { atMs: this.clock.now(), who, what };
    this.timeline.push(e);
    this.emit('timeline', e);
  }

  violation(what: string): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push(what);
    this.note('twilio', `VIOLATION ${what}`);
    this.emit('violation', what);
  }

  /** Keeps a promise (a callback POST, a TTS job) from being lost at shutdown. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  // --- HTTP towards the bridge -------------------------------------------------------------

  /** The params Twilio sends with every request about this call. */
  params(status: string): Record<string, string> {
    return {
      AccountSid: this.env.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: this.callSid,
      CallStatus: status,
      Called: this.setup.to,
      Caller: this.setup.from,
      Direction: this.setup.direction,
      From: this.setup.from,
      To: this.setup.to,
      ...(this.setup.extraParams ?? {}),
    };
  }

  /**
   * Requests TwiML from the application (signed), resolving relative URLs against `base`.
   * A failure is what Twilio calls an application error: noted, and null (the call ends).
   */
  async fetchTwiml(url: string, base: string, extra: Record<string, string>, method = 'POST'): Promise<Doc | null> {
    let abs: string;
    try {
      abs = new URL(url, base).toString();
    } catch {
      this.violation(`invalid URL in TwiML: ${url.slice(0, 80)}`);
      return null;
    }
    const m = method.toUpperCase() === 'GET' ? 'GET' : 'POST';
    const t0 = this.clock.now();
    const path = new URL(abs).pathname;
    try {
      const res = await this.track(signedRequest(this.env.mapper, this.env.authToken, abs, { ...this.params('in-progress'), ...extra }, m));
      this.note('twilio', `${m} ${path} → ${res.status} (${this.clock.now() - t0} ms)`);
      if (res.status < 200 || res.status >= 300) {
        this.violation(`11200 webhook ${m} ${path} answered HTTP ${res.status}`);
        return null;
      }
      if (!/xml/i.test(res.contentType)) this.violation(`12300 webhook ${path} answered Content-Type "${res.contentType}", not XML`);
      return { xml: res.body, url: abs };
    } catch (err) {
      this.violation(`11200 webhook ${m} ${path} failed: ${(err as Error).message}`);
      return null;
    }
  }

  /** Status callbacks: fire-and-forget, numbered from 0 (they may arrive out of order). */
  statusCallback(event: 'initiated' | 'ringing' | 'answered' | 'completed', callStatus: string): void {
    const url = this.setup.statusCallbackUrl;
    if (!url) return;
    const events = this.setup.statusEvents ?? ['initiated', 'ringing', 'answered', 'completed'];
    if (!events.includes(event)) return;
    const params: Record<string, string> = {
      ...this.params(callStatus),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.statusSeq++),
      Timestamp: new Date().toUTCString().replace('GMT', '+0000'),
    };
    if (event === 'completed') params.CallDuration = String(Math.round((this.clock.now() - this.answeredAtMs) / 1000));
    const path = new URL(url).pathname;
    void this.track(
      signedRequest(this.env.mapper, this.env.authToken, url, params).then(
        (res) => {
          if (res.status >= 300) this.violation(`15003 status callback ${path} (${event}) answered HTTP ${res.status}`);
        },
        (err: Error) => this.violation(`15003 status callback ${path} (${event}) failed: ${err.message}`),
      ),
    );
  }

  // --- lifecycle ----------------------------------------------------------------------------

  async run(): Promise<void> {
    this.clock.start();
    void this.clock.until(this.setup.maxDurationMs).then((reached) => {
      if (reached) this.end('timeout');
    });
    this.note('twilio', `${this.setup.direction === 'inbound' ? 'incoming' : 'outgoing'} call ${this.setup.from} → ${this.setup.to} (${this.callSid})`);
    this.statusCallback('initiated', 'initiated');
    this.statusCallback('ringing', 'ringing');
    const doc = await this.fetchTwiml(this.voiceUrl, this.voiceUrl, this.params('ringing'));
    if (this.ended) return;
    if (!doc) return this.end('twiml-end');
    this.answeredAtMs = this.clock.now();
    this.statusCallback('answered', 'in-progress');
    this.startScript();
    this.runTwiml(doc);
  }

  /**
   * A REST-created call: it rings the callee (SimulatorOptions.human), and only an answered
   * call fetches its TwiML (or runs the inline Twiml).
   */
  async runOutbound(source: { twiml?: string; url?: string; method?: string }): Promise<void> {
    this.clock.start();
    void this.clock.until(this.setup.maxDurationMs).then((reached) => {
      if (reached) this.end('timeout');
    });
    this.note('twilio', `outgoing call ${this.setup.from} → ${this.setup.to} (${this.callSid})`);
    this.statusCallback('initiated', 'initiated');
    this.statusCallback('ringing', 'ringing');
    const human = this.env.human;
    if (!(await this.clock.sleep(human.ringMs ?? 1000)) || this.ended) return;
    if (human.answer !== 'answer') {
      this.note('human', human.answer);
      return this.end('not-answered', human.answer);
    }
    this.note('human', 'answered');
    this.answeredAtMs = this.clock.now();
    this.statusCallback('answered', 'in-progress');
    const doc = source.twiml !== undefined
      ? { xml: source.twiml, url: this.voiceUrl }
      : await this.fetchTwiml(source.url ?? this.voiceUrl, this.voiceUrl, {}, source.method);
    if (this.ended) return;
    if (!doc) return this.end('twiml-end');
    this.startScript();
    this.runTwiml(doc);
  }

  /** Starts the caller script (TTS is prepared up front so speech starts on time). */
  startScript(): void {
    const script = this.setup.caller ?? [];
    if (script.length > 0) void this.track(runScript(this, script));
  }

  /** Runs a document, replacing whatever document runs now (REST update semantics). */
  runTwiml(doc: Doc): void {
    this.docCtl?.abort();
    const ctl = new AbortController();
    this.docCtl = ctl;
    void this.track(
      runDocuments(this, doc, ctl.signal).then((outcome) => {
        if (ctl.signal.aborted || this.ended) return;
        if (outcome === 'hangup') this.end('bridge-hangup');
        else this.end(this.lastDialCompleted ? 'transfer-completed' : 'twiml-end');
      }),
    );
  }

  /** A REST `Twiml` update: checked like Twilio does, then run. Returns an error text or undefined. */
  updateTwiml(xml: string): string | undefined {
    try {
      const root = parseTwiml(xml);
      this.restUpdates++;
      this.note('twilio', `REST update: ${sketchTwiml(root)}`);
    } catch (err) {
      return (err as Error).message;
    }
    this.runTwiml({ xml, url: this.voiceUrl });
    return undefined;
  }

  /** Ends the call once; `finalStatus` is the CallStatus of the completed callback. */
  end(by: EndedBy, finalStatus = 'completed'): void {
    if (this.ended) return;
    this.ended = true;
    this.endedBy = by;
    // Taken before the abort: stopping the stream detaches it from the call.
    const stream = this.stream;
    this.docCtl?.abort();
    stream?.stop();
    this.note('twilio', `call ended (${by})`);
    this.statusCallback('completed', finalStatus);
    this.clock.stop();
    const closed = stream ? Promise.race([stream.closed, new Promise((r) => setTimeout(r, 1500))]) : Promise.resolve();
    void closed.then(() => {
      const result = this.result();
      this.emit('end', result);
      this.resolveDone(result);
    });
  }

  /** Waits (bounded) for callbacks and HTTP requests still in flight. */
  async settle(ms = 2000): Promise<void> {
    await Promise.race([Promise.allSettled([...this.pending]), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  result(): CallResult {
    return {
      callSid: this.callSid,
      heard: this.heard.toArray(),
      timeline: this.timeline,
      streams: this.streams,
      violations: this.violations,
      endedBy: this.endedBy ?? 'timeout',
      durationMs: this.clock.now(),
      restUpdates: this.restUpdates,
      ...(this.dialed.length > 0 ? { dialed: this.dialed } : {}),
    };
  }

  // --- media -------------------------------------------------------------------------------

  /** Opens a media stream; resolves when it is over. */
  openStream(stream: MediaStream): void {
    this.streams.push(stream.stats);
    stream.connect();
  }

  onStreamStarted(stream: MediaStream): void {
    if (this.ended) return stream.stop();
    this.stream = stream;
    this.note('twilio', `stream ${stream.streamSid} started`);
    this.emit('stream-start', stream.stats);
  }

  onStreamEnded(stream: MediaStream): void {
    if (this.stream === stream) this.stream = undefined;
    if (this.agentSpeaking) this.setAgentSpeaking(false);
    this.note('twilio', `stream ${stream.streamSid} ended (${stream.stats.endedBy})`);
    this.emit('stream-end', stream.stats);
  }

  deliverDtmf(digit: string): void {
    this.note('caller', `dtmf ${digit}`);
    if (this.gather) this.gather.push(digit);
    else if (this.stream?.active) this.stream.sendDtmf(digit);
    else this.note('twilio', `dtmf ${digit} lost: nothing listening`);
  }

  /** Something listens to the caller: a started stream, or a Gather for DTMF. */
  listening(dtmf: boolean): boolean {
    return Boolean(this.stream?.active) || (dtmf && this.gather !== undefined);
  }

  private tick(): void {
    this.callerAudio.read(this.inFrame);
    const stream = this.stream;
    if (stream?.active) {
      stream.sendAudio(this.inFrame);
      const played = stream.play(this.outFrame);
      const audible = played > 0 && peak(this.outFrame) >= AUDIBLE_PEAK;
      this.trackAgentSpeech(audible);
    } else {
      this.verbAudio.read(this.outFrame);
      if (peak(this.outFrame) >= AUDIBLE_PEAK) this.markAudible();
    }
    this.heard.append(this.outFrame);
  }

  private markAudible(): void {
    this.lastAudibleMs = this.clock.tickMs();
    this.audibleFrames++;
  }

  private trackAgentSpeech(audible: boolean): void {
    if (audible) {
      this.markAudible();
      if (!this.agentSpeaking) this.setAgentSpeaking(true);
    } else if (this.agentSpeaking && this.clock.tickMs() - this.lastAudibleMs >= SPEECH_HANGOVER_MS) {
      this.setAgentSpeaking(false);
    }
  }

  private setAgentSpeaking(on: boolean): void {
    this.agentSpeaking = on;
    this.note('agent', on ? 'speaking' : 'silent');
  }

  // --- the handle given to users -------------------------------------------------------------

  handle(): CallHandle {
    return {
      callSid: this.callSid,
      done: this.done,
      timeline: this.timeline,
      hangup: () => {
        if (this.ended) return;
        this.note('caller', 'hangs up');
        this.end('caller');
      },
      sendDtmf: (digits: string) => {
        void this.track(
          (async () => {
            for (const d of digits) {
              if (this.ended) return;
              if (/^[0-9*#A-D]$/.test(d)) this.deliverDtmf(d);
              await this.clock.sleep(150);
            }
          })(),
        );
      },
      say: (text: string) => {
        void this.track(
          speak(text).then((pcm) => {
            if (this.ended) return;
            this.note('caller', `says "${text}"${pcm ? '' : ' (TTS failed: silence)'}`);
            if (pcm) this.callerAudio.push(pcm);
          }),
        );
      },
      on: ((event: string, cb: (...a: never[]) => void) => {
        this.emitter.on(event, cb as (...a: unknown[]) => void);
      }) as CallHandle['on'],
    };
  }
}

export { TICK_MS };
