import { EventEmitter } from 'node:events';
import { CallClock } from './clock.js';
import type { DigitCollector } from './digits.js';
import type { ConferenceMember, SimConference } from './conference.js';
import { MediaStream, newSid } from './media-stream.js';
import { PcmRecorder, SampleQueue, peak } from './pcm.js';
import type { CallEnv, CallSetup, Doc, SimCallPort } from './call-port.js';
import { runDocuments } from './executor.js';
import { Webhooks } from './webhooks.js';
import { runScript } from './script.js';
import { sketchTwiml, parseTwiml } from './twiml-parser.js';
import type { Actor, CallResult, DialRecord, EndedBy, StreamStats, TimelineEntry } from './types.js';

export type { CallEnv, CallSetup } from './call-port.js';

/** Audible: what counts as "somebody talks" in what the caller hears. */
const AUDIBLE_PEAK = 400;
/** The agent is "silent" after this much quiet (a pause inside a sentence is shorter). */
const SPEECH_HANGOVER_MS = 300;
const MAX_VIOLATIONS = 200;

/**
 * One simulated call: its clock, what the caller says and hears, its current media stream,
 * its TwiML execution and its result. The 20 ms tick is the only place audio moves.
 */
export class SimCall implements SimCallPort {
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
  /** a REST-created call is ringing until the callee answers; an inbound call is answered at its webhook */
  answered = false;
  /** the conference the call is in, if any */
  conference: SimConference | undefined;
  readonly conferenceMember: ConferenceMember = {
    callSid: '',
    hear: (frame) => this.verbAudio.push(frame),
  };
  ended = false;
  endedBy: EndedBy | undefined;
  endedAtMs: number | undefined;
  /** tick time of the last audible frame heard, and how many audible frames so far */
  lastAudibleMs = -Infinity;
  audibleFrames = 0;
  readonly done: Promise<CallResult>;
  readonly web: Webhooks = new Webhooks(this);

  private resolveDone!: (r: CallResult) => void;
  private readonly emitter = new EventEmitter();
  private readonly heard = new PcmRecorder();
  /** every sample the bridge sent, in order, without the real-time gaps of `heard` */
  private readonly received = new PcmRecorder();
  private readonly inFrame = new Int16Array(160);
  private readonly outFrame = new Int16Array(160);
  private docCtl: AbortController | undefined;
  private agentSpeaking = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly violationCounts = new Map<string, number>();

  constructor(
    readonly env: CallEnv,
    readonly setup: CallSetup,
    readonly voiceUrl: string,
  ) {
    this.callSid = setup.callSid ?? newSid('CA');
    (this.conferenceMember as { callSid: string }).callSid = this.callSid;
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
    const e: TimelineEntry = { atMs: this.clock.now(), tickMs: this.clock.tickMs(), who, what };
    this.timeline.push(e);
    this.emit('timeline', e);
  }

  violation(what: string): void {
    if (this.violations.length < MAX_VIOLATIONS) this.violations.push(what);
    // A bridge bug repeats 50 times a second; the timeline shows the first few of each kind.
    const n = (this.violationCounts.get(what) ?? 0) + 1;
    this.violationCounts.set(what, n);
    if (n <= 3) this.note('twilio', `VIOLATION ${what}`);
    else if (n === 4) this.note('twilio', `VIOLATION ${what} (repeats; not shown again)`);
    this.emit('violation', what);
  }

  /** Keeps a promise (a callback POST, a TTS job) from being lost at shutdown. */
  track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  // --- lifecycle ----------------------------------------------------------------------------

  async run(): Promise<void> {
    if (this.ended) return;
    this.clock.start();
    void this.clock.until(this.setup.maxDurationMs).then((reached) => {
      if (reached) this.end('timeout');
    });
    this.note(
      'twilio',
      `${this.setup.direction === 'inbound' ? 'incoming' : 'outgoing'} call ${this.setup.from} → ${this.setup.to} (${this.callSid})`,
    );
    this.web.status('initiated', 'initiated');
    this.web.status('ringing', 'ringing');
    const doc = await this.web.fetch(this.voiceUrl, this.voiceUrl, this.web.params('ringing'));
    if (this.ended) return;
    if (!doc) return this.end('twiml-end');
    this.answered = true;
    this.web.answeredAtMs = this.clock.now();
    this.web.status('answered', 'in-progress');
    this.startScript();
    this.runTwiml(doc);
  }

  joinConference(c: SimConference | undefined): void {
    this.conference = c;
  }

  /**
   * A REST-created call: it rings the callee (SimulatorOptions.human), and only an answered
   * call fetches its TwiML (or runs the inline Twiml).
   */
  async runOutbound(source: { twiml?: string; url?: string; method?: string }): Promise<void> {
    if (this.ended) return;
    this.clock.start();
    void this.clock.until(this.setup.maxDurationMs).then((reached) => {
      if (reached) this.end('timeout');
    });
    this.note('twilio', `outgoing call ${this.setup.from} → ${this.setup.to} (${this.callSid})`);
    this.web.status('initiated', 'initiated');
    this.web.status('ringing', 'ringing');
    const human = this.env.human;
    const limitMs = (this.setup.ringTimeoutS ?? 60) * 1000;
    // No answer rings for the call's Timeout (or ringMs, if shorter); any other outcome after ringMs.
    const ringMs = human.answer === 'no-answer' ? Math.min(limitMs, human.ringMs ?? limitMs) : (human.ringMs ?? 1000);
    if (!(await this.clock.sleep(ringMs)) || this.ended) return;
    if (human.answer !== 'answer') {
      this.note('human', human.answer);
      return this.end('not-answered', human.answer);
    }
    this.note('human', 'answered');
    this.answered = true;
    this.web.answeredAtMs = this.clock.now();
    this.web.status('answered', 'in-progress');
    const doc =
      source.twiml !== undefined
        ? { xml: source.twiml, url: this.voiceUrl }
        : await this.web.fetch(source.url ?? this.voiceUrl, this.voiceUrl, {}, source.method);
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
      runDocuments(this, doc, ctl.signal).then(
        (outcome) => {
          if (ctl.signal.aborted || this.ended) return;
          if (outcome === 'hangup') this.end('bridge-hangup');
          else this.end(this.lastDialCompleted ? 'transfer-completed' : 'twiml-end');
        },
        (err: Error) => {
          // A simulator bug must end the call visibly, not leave it hanging until the timeout.
          this.violation(`simulator error: ${err.message}`);
          this.end('twiml-end');
        },
      ),
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
    this.web.status('completed', finalStatus);
    this.clock.stop();
    this.endedAtMs = this.clock.now();
    // The result waits for the socket to close (bounded), so a test sees the `stop` it was sent.
    let timer: NodeJS.Timeout | undefined;
    const closed = stream
      ? Promise.race([stream.closed, new Promise((r) => (timer = setTimeout(r, 1500)))])
      : Promise.resolve();
    void closed.then(() => {
      clearTimeout(timer);
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
      received: this.received.toArray(),
      timeline: this.timeline,
      streams: this.streams,
      violations: this.violations,
      endedBy: this.endedBy ?? 'timeout',
      durationMs: this.endedAtMs ?? this.clock.now(),
      restUpdates: this.restUpdates,
      ...(this.dialed.length > 0 ? { dialed: this.dialed } : {}),
    };
  }

  // --- media -------------------------------------------------------------------------------

  /** Connects a media stream; the stream reports back through onStreamStarted / onStreamEnded. */
  openStream(stream: MediaStream): void {
    this.streams.push(stream.stats);
    stream.connect();
  }

  onBridgeAudio(pcm: Int16Array): void {
    this.received.append(pcm);
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
    return (
      Boolean(this.stream?.active) ||
      (dtmf && this.gather !== undefined) ||
      (!dtmf && this.conference?.started === true)
    );
  }

  private tick(): void {
    this.callerAudio.read(this.inFrame);
    // In a started conference, what this call says is heard by the others (and by no stream).
    this.conference?.speak(this.conferenceMember, this.inFrame);
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

  on(event: string, cb: (arg: never) => void): void {
    this.emitter.on(event, cb as (arg: unknown) => void);
  }
}
