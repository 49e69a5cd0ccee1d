/**
 * The live event feed of the calls of this process, for the operator console (src/console).
 * Each call has a CallFeed: transcript lines, timeline entries (tools, verbs, barge-ins, DTMF)
 * and reply latencies are kept in a bounded backlog and published to whoever watches; the state
 * (greeting, listening, agent speaking…) and the audio levels are sampled a few times a second,
 * and only while someone watches, so an unwatched bridge does no per-frame work for the console.
 *
 * Nothing here carries a full phone number: callers are masked at open (last 4 digits), and
 * transcript text is passed through the call record's number redaction.
 */
import { maskNumber, redactNumbers } from './redact.js';
import { ListenTap } from './listen-tap.js';

export type CallState =
  | 'connecting'
  | 'greeting'
  | 'listening'
  | 'agent_speaking'
  | 'tool_running'
  | 'collecting'
  | 'holding'
  /** the stream ended and the leg restarts it (Twilio `<Play digits>`); the agent waits */
  | 'restarting'
  | 'transferring'
  | 'ending';

export type TimelineKind = 'tool' | 'verb' | 'barge_in' | 'dtmf' | 'listen';

export type FeedEvent =
  | { kind: 'started'; call: CallView }
  | { kind: 'ended'; callSid: string; outcome: string }
  | { kind: 'state'; callSid: string; state: CallState; atMs: number }
  | { kind: 'transcript'; callSid: string; role: string; text: string; atMs: number }
  | {
      kind: 'timeline';
      callSid: string;
      type: TimelineKind;
      name: string;
      result: string;
      durationMs?: number;
      /** a tool's arguments and output, masked (previewForPage): only with `bridge.call_record_transcript` */
      args?: string;
      output?: string;
      atMs: number;
    }
  | { kind: 'latency'; callSid: string; firstFrameMs: number; voiceToVoiceMs?: number; atMs: number }
  | { kind: 'levels'; callSid: string; in: number; out: number }
  /** no audio either way for the hub's stuck threshold (or audio again: stuck false) */
  | { kind: 'stuck'; callSid: string; stuck: boolean; silentMs: number }
  /** a configuration reload (any source): what changed, or why it was refused */
  | { kind: 'reload'; ok: boolean; message: string; at: string };

/** What the console shows of a call in its list: no full number, no secret. */
export interface CallView {
  callSid: string;
  agent: string;
  caller: string;
  startedAt: number;
  state: CallState;
}
/** |sample| / 32768 of each μ-law byte, once: the level meter reads a table, never decodes. */
const MULAW_LEVEL = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const u = ~i & 0xff;
    const exp = (u >> 4) & 7;
    const mag = ((((u & 0x0f) << 3) + 0x84) << exp) - 0x84;
    t[i] = mag / 32768;
  }
  return t;
})();

/** Bytes a level meter looks at per chunk, whatever its size: the per-frame cost is O(1). */
export const LEVEL_PROBES = 4;

/**
 * The peak of a few μ-law bytes per chunk, since the last `take()`. A level for the eye, not a
 * measurement: LEVEL_PROBES evenly spaced bytes of each 20 ms chunk, max-held between samples.
 */
export class LevelMeter {
  private peak = 0;

  add(mu: ArrayLike<number>): void {
    const n = mu.length;
    if (n === 0) return;
    const step = n > LEVEL_PROBES ? Math.floor(n / LEVEL_PROBES) : 1;
    let p = this.peak;
    for (let k = 0, i = 0; k < LEVEL_PROBES && i < n; k++, i += step) {
      const v = MULAW_LEVEL[mu[i]! & 0xff]!;
      if (v > p) p = v;
    }
    this.peak = p;
  }

  /** The peak since the last call (0..1, two decimals), then reset. */
  take(): number {
    const p = this.peak;
    this.peak = 0;
    return Math.round(p * 100) / 100;
  }
}

const MAX_BACKLOG = 400;
/** A level above this (≈ −40 dBFS) is audio; μ-law silence and line hiss stay below it. */
const STUCK_LEVEL = 0.01;

/** One call's feed; its session calls it, the hub samples and publishes it. */
export class CallFeed {
  readonly inLevel = new LevelMeter();
  readonly outLevel = new LevelMeter();
  private readonly backlog: FeedEvent[] = [];
  state: CallState = 'connecting';
  /** when the last audible level was sampled either way (0: not since watching began) */
  private audibleAt = 0;
  /** no audio either way for the hub's threshold: shown on the live view */
  stuck = false;
  /** the call's listen-in copy, only while a supervisor listens (src/observability/listen-tap.ts) */
  tap: ListenTap | undefined;

  constructor(
    private readonly hub: CallFeedHub,
    readonly view: Omit<CallView, 'state'>,
    private readonly probe: () => CallState,
  ) {}

  /** Someone watches: the session feeds the level meters only then (one property read per frame). */
  get watched(): boolean {
    return this.hub.watchers > 0;
  }

  private at(): number {
    return Date.now() - this.view.startedAt;
  }

  private push(ev: FeedEvent): void {
    this.backlog.push(ev);
    if (this.backlog.length > MAX_BACKLOG) this.backlog.shift();
    this.hub.publish(ev);
  }

  transcript(role: string, text: string): void {
    this.push({
      kind: 'transcript',
      callSid: this.view.callSid,
      role,
      text: redactNumbers(text).slice(0, 400),
      atMs: this.at(),
    });
  }

  timeline(
    type: TimelineKind,
    name: string,
    result: string,
    durationMs?: number,
    detail?: { args?: string; output?: string },
  ): void {
    this.push({
      kind: 'timeline',
      callSid: this.view.callSid,
      type,
      name: name.slice(0, 64),
      result: result.slice(0, 64),
      ...(durationMs !== undefined ? { durationMs: Math.round(durationMs) } : {}),
      ...(detail?.args !== undefined ? { args: detail.args } : {}),
      ...(detail?.output !== undefined ? { output: detail.output } : {}),
      atMs: this.at(),
    });
  }

  /** A caller key press; `hidden` while a `collect` gathers digits (an account number, a PIN). */
  dtmf(digit: string, hidden: boolean): void {
    this.timeline('dtmf', hidden ? '•' : digit.slice(0, 1), hidden ? 'collected' : 'pressed');
  }

  latency(firstFrameMs: number, voiceToVoiceMs: number | undefined): void {
    this.push({
      kind: 'latency',
      callSid: this.view.callSid,
      firstFrameMs: Math.round(firstFrameMs),
      ...(voiceToVoiceMs !== undefined && voiceToVoiceMs >= 0 ? { voiceToVoiceMs: Math.round(voiceToVoiceMs) } : {}),
      atMs: this.at(),
    });
  }

  /** Current state, and levels when `levels` (the hub's timer, only while watched). */
  sample(levels = true): void {
    const state = this.probe();
    if (state !== this.state) {
      this.state = state;
      this.push({ kind: 'state', callSid: this.view.callSid, state, atMs: this.at() });
    }
    if (!levels) return;
    const inL = this.inLevel.take();
    const outL = this.outLevel.take();
    this.hub.publish({ kind: 'levels', callSid: this.view.callSid, in: inL, out: outL });
    this.checkStuck(inL, outL, Date.now());
  }

  /**
   * Dead air: no level above STUCK_LEVEL either way for the hub's threshold. Levels exist only
   * while a console watches, so the silence is counted from when watching began at the earliest.
   */
  private checkStuck(inL: number, outL: number, now: number): void {
    if (inL > STUCK_LEVEL || outL > STUCK_LEVEL || this.audibleAt === 0) this.audibleAt = now;
    const silentMs = now - this.audibleAt;
    const stuck = silentMs >= this.hub.stuckMs;
    if (stuck === this.stuck) return;
    this.stuck = stuck;
    this.hub.publish({ kind: 'stuck', callSid: this.view.callSid, stuck, silentMs });
  }

  /** Watching (re)starts: silence before it is unknown, not counted. */
  resetAudible(): void {
    this.audibleAt = 0;
  }

  /** The call's listen tap, made for its first listener; dropped (undefined) when the last leaves. */
  listenTap(): ListenTap {
    return (this.tap ??= new ListenTap());
  }

  /** The tap lost its last listener: the session's per-frame check is one property read again. */
  releaseTap(tap: ListenTap): void {
    if (this.tap === tap && tap.listeners === 0) this.tap = undefined;
  }

  /** Everything kept so far, for a detail view opened after the call started. */
  history(): readonly FeedEvent[] {
    return this.backlog;
  }

  current(): CallView {
    return { ...this.view, state: this.state };
  }
}

export type FeedListener = (ev: FeedEvent) => void;

/** The feeds of this process's calls and their watchers. */
export class CallFeedHub {
  private readonly feeds = new Map<string, CallFeed>();
  private readonly listeners = new Set<FeedListener>();
  private timer: NodeJS.Timeout | undefined;

  private samples = 0;

  /**
   * The state is sampled every `sampleMs` (a change shows within it: 100 ms, under the 200 ms a
   * supervisor notices) and the levels on every `levelsEvery`-th sample (a meter needs no more).
   */
  constructor(
    private readonly sampleMs = 100,
    private readonly levelsEvery = 3,
    /** a call silent both ways this long is flagged stuck (bridge.console_stuck_after_s) */
    readonly stuckMs = 10_000,
  ) {}

  get watchers(): number {
    return this.listeners.size;
  }

  open(info: { callSid: string; agent: string; from?: string }, probe: () => CallState): CallFeed {
    const feed = new CallFeed(
      this,
      { callSid: info.callSid, agent: info.agent, caller: maskNumber(info.from), startedAt: Date.now() },
      probe,
    );
    this.feeds.set(info.callSid, feed);
    this.publish({ kind: 'started', call: feed.current() });
    return feed;
  }

  close(feed: CallFeed, outcome: string): void {
    if (this.feeds.get(feed.view.callSid) === feed) this.feeds.delete(feed.view.callSid);
    // Listeners hear nothing more of this call: their sockets close now, not at a timeout.
    feed.tap?.end();
    feed.tap = undefined;
    this.publish({ kind: 'ended', callSid: feed.view.callSid, outcome });
  }

  get(callSid: string): CallFeed | undefined {
    return this.feeds.get(callSid);
  }

  list(): CallFeed[] {
    return [...this.feeds.values()];
  }

  /** Listen-in sockets open on this process's calls, all together. */
  listening(): number {
    let n = 0;
    for (const f of this.feeds.values()) n += f.tap?.listeners ?? 0;
    return n;
  }

  /** Sends every event of every call to `fn` until the returned function is called. */
  subscribe(fn: FeedListener): () => void {
    this.listeners.add(fn);
    if (!this.timer) {
      for (const f of this.feeds.values()) f.resetAudible();
      this.timer = setInterval(() => this.sampleAll(), this.sampleMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private sampleAll(): void {
    const levels = this.samples++ % this.levelsEvery === 0;
    for (const f of this.feeds.values()) f.sample(levels);
  }

  publish(ev: FeedEvent): void {
    // A slow or failing watcher must not reach the call that published.
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch {
        /* the watcher's own problem: its connection closes on its side */
      }
    }
  }

  /** Stops sampling and drops every watcher (the bridge's close). */
  stop(): void {
    for (const f of this.feeds.values()) f.tap?.end(1001, 'bridge closing');
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
