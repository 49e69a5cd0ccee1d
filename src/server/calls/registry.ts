import type { Turn } from '../../call/memory.js';
import type { LegMedia } from '../../call/leg.js';
import { CallSession, type CallInfo, type SessionDeps } from '../../call/session.js';
import type { CallRecord } from '../../call/record.js';
import type { AgentConfig } from '../../config/schema.js';
import type { DirectoryEntry, FleetStore, ParkedCall } from '../../store/fleet-store.js';
import { TwilioLeg, type TwilioLegServices } from '../../twilio/leg.js';
import { hangupTwiml } from '../../twilio/twiml.js';
import type { StreamClaims } from '../../twilio/stream-token.js';

/** What routing a stream needs from the bridge (BridgeContext satisfies it). */
export interface RoutingView {
  readonly draining: boolean;
  atCapacity(): boolean;
  /** whether a new call may start here: this replica's limit, then the fleet's (store) */
  admit(callSid: string): Promise<boolean>;
  agent(id: string | undefined): AgentConfig | undefined;
  agentForNumber(to: string | undefined): AgentConfig;
}

export type AttachResult = { session: CallSession } | { refused: string; busy?: Promise<boolean> };

/** A resumed call: its conversation and the note the agent gets about why it is back. */
export interface Resume {
  note: string;
  turns: readonly Turn[];
}

/**
 * Every live call of this process, keyed by CallSid, and the fleet's view of them through the
 * store: each session is entered in the call directory when created, renewed in one batch per
 * lease period, and released when it ends. The store is touched at a call's edges only
 * (creation, stream attach, end), never per frame.
 */
export class CallRegistry {
  private readonly calls = new Map<string, CallSession>();
  private readonly endedWaiters = new Set<() => void>();
  private readonly renewTimer: NodeJS.Timeout;

  constructor(
    /** the sessions' services, and what each call's Twilio leg is built with */
    private readonly deps: Omit<SessionDeps, 'onEnded' | 'legFor'> & TwilioLegServices,
    private readonly onRecord: (r: CallRecord) => void,
    readonly store: FleetStore,
    /** lease of a directory entry; renewed every third of it */
    private readonly leaseMs = 15_000,
  ) {
    this.renewTimer = setInterval(
      () => void this.store.renew(this.list().map((s) => this.entryOf(s))),
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    this.renewTimer.unref();
  }

  get size(): number {
    return this.calls.size;
  }

  get(callSid: string): CallSession | undefined {
    return this.calls.get(callSid);
  }

  list(): CallSession[] {
    return [...this.calls.values()];
  }

  private entryOf(s: CallSession): DirectoryEntry {
    return {
      callSid: s.callSid,
      replica: this.store.replicaId,
      agent: s.agent.id,
      ...(s.info.from ? { from: s.info.from } : {}),
      ...(s.info.to ? { to: s.info.to } : {}),
      startedAt: s.startedAt,
      status: s.hasStream ? 'in-progress' : 'connecting',
    };
  }

  /**
   * Creates the session of a call (the caller checked the capacity and that none exists), on the
   * telephony leg `legFor` builds: Twilio's unless another leg's routes pass their own.
   */
  create(
    info: CallInfo,
    resume?: Resume,
    legFor: SessionDeps['legFor'] = (call, log) => new TwilioLeg(call, this.deps, log),
  ): CallSession {
    const session = new CallSession(
      info,
      { ...this.deps, legFor, onEnded: (s, record) => this.onSessionEnded(s, record) },
      resume,
    );
    this.calls.set(info.callSid, session);
    this.deps.metrics.activeCalls.set(this.calls.size);
    void this.store.register(this.entryOf(session));
    return session;
  }

  private onSessionEnded(s: CallSession, record: CallRecord): void {
    if (this.calls.get(s.callSid) === s) this.calls.delete(s.callSid);
    this.deps.metrics.activeCalls.set(this.calls.size);
    this.deps.metrics.calls.inc({ ...s.labels, outcome: record.outcome });
    // Only if this replica still owns the entry: a moved call's new owner keeps its own.
    void this.store.release(s.callSid, this.store.replicaId);
    if (record.outcome === 'transferred') {
      const ttl = (s.agent.transfer.timeout_s + 60) * 1000;
      void this.store.park(this.parkedOf(s, 'transfer'), ttl);
    }
    this.onRecord(record);
    if (this.calls.size === 0) for (const w of this.endedWaiters) w();
  }

  parkedOf(s: CallSession, reason: ParkedCall['reason'], note?: string): ParkedCall {
    return {
      callSid: s.callSid,
      agent: s.agent.id,
      reason,
      turns: [...s.memory.all()],
      ...(s.info.from ? { from: s.info.from } : {}),
      ...(s.info.to ? { to: s.info.to } : {}),
      ...(s.info.direction ? { direction: s.info.direction } : {}),
      ...(note ? { note } : {}),
      // Only the dial-action whose URL carries this nonce may take a transfer back (dial-action.ts).
      ...(reason === 'transfer' && s.leg.resumeKey ? { nonce: s.leg.resumeKey } : {}),
    };
  }

  /**
   * A final status callback for the call (on any replica): parked context dropped, slot freed,
   * end remembered for `bridge.call_memory_h` — which also revokes every stream token still
   * outstanding for the call (attachStream refuses an ended CallSid).
   */
  async noteEndedAtTwilio(callSid: string): Promise<void> {
    await Promise.all([
      this.store.dropParked(callSid),
      this.store.noteEnded(callSid, this.deps.settings.call_memory_h * 3_600_000),
      this.store.release(callSid),
    ]);
  }

  /** Whether Twilio has reported the call over, anywhere in the fleet; undefined: the store did not answer. */
  hasEndedAtTwilio(callSid: string): Promise<boolean | undefined> {
    return this.store.hasEnded(callSid);
  }

  /**
   * Pre-connects an engine session at a webhook, so the agent is ready when the stream comes.
   * A resumed call (failed transfer) always gets its session: it carries the conversation.
   */
  preconnect(info: CallInfo, resume?: Resume): CallSession | undefined {
    const settings = this.deps.settings;
    // In a fleet the stream may land on another replica than this webhook: no pre-connect then.
    if (!resume && (!settings.preconnect.enabled || this.store.shared)) return undefined;
    const s = this.create(info, resume);
    s.startEngine();
    s.awaitStream(settings.preconnect.stream_timeout_ms, 'preconnect');
    this.deps.metrics.preconnect.inc({ result: 'started' });
    return s;
  }

  /**
   * A call whose leg rings before it answers (SIP): its session is created on that leg and its
   * engine opened now, as a pre-connect; the leg attaches its media when it answers.
   */
  startRinging(info: CallInfo, legFor: SessionDeps['legFor']): CallSession {
    const s = this.create(info, undefined, legFor);
    s.startEngine();
    this.deps.metrics.preconnect.inc({ result: 'started' });
    return s;
  }

  /**
   * Binds a media stream to its call's session, creating one if none waits here. With a shared
   * store the token is first consumed fleet-wide (a replay on another replica is refused) and a
   * call moved here (transfer-return, a drain) is resumed with its conversation from the store;
   * then the answer is a promise. With the in-process store it is immediate, as on one replica.
   */
  async attachStream(
    view: RoutingView,
    callSid: string,
    claims: StreamClaims,
    handle: LegMedia,
  ): Promise<AttachResult> {
    // Twilio reported the call over: every token still outstanding for it is void. A store that
    // does not answer lets the stream through (its token came from a webhook that passed the
    // fleet's checks within token_ttl_s); webhooks that would open a session fail closed instead.
    if ((await this.hasEndedAtTwilio(callSid)) === true) return { refused: 'call_ended' };
    const s = this.calls.get(callSid);
    if (s || !this.store.shared) return this.attachLocal(view, callSid, claims, handle, s);
    return this.attachShared(view, callSid, claims, handle);
  }

  private async attachShared(
    view: RoutingView,
    callSid: string,
    claims: StreamClaims,
    handle: LegMedia,
  ): Promise<AttachResult> {
    const fresh = await this.store.consumeOnce(
      'stream',
      claims.id,
      Math.max(1000, claims.expiresAt - Date.now() + 1000),
    );
    if (fresh === false) return { refused: 'token_replayed' };
    const here = this.calls.get(callSid);
    if (here) return this.attachLocal(view, callSid, claims, handle, here);
    const moved = claims.purpose === 'restart' ? await this.unparkMoved(callSid) : undefined;
    if (!view.draining && (await view.admit(callSid))) {
      const s = this.calls.get(callSid);
      if (s) return this.attachLocal(view, callSid, claims, handle, s);
      const resume = moved ? { note: moved.note ?? '', turns: moved.turns } : undefined;
      return { session: this.startWithStream(view, callSid, claims, handle, resume, moved?.agent) };
    }
    // Refused here: a moved call's context goes back for whichever replica takes the call next.
    if (moved) void this.store.park(moved, 60_000);
    return this.refuseBusy(view, callSid, claims);
  }

  /** A moved call's context, for its restart stream; a parked transfer is its dial-action's, never a stream's. */
  private async unparkMoved(callSid: string): Promise<ParkedCall | undefined> {
    const p = await this.store.unparkIf(callSid, 'moved');
    return p === 'stale' ? undefined : p;
  }

  private attachLocal(
    view: RoutingView,
    callSid: string,
    claims: StreamClaims,
    handle: LegMedia,
    s: CallSession | undefined,
  ): AttachResult {
    if (s) {
      if (s.isEnded) return { refused: 'call_ended' };
      // One stream per call: only a restart the bridge asked for (transfer-return, <Play
      // digits>, a moved call) may follow or replace a stream; anything else leaves it be.
      if (claims.purpose !== 'restart') {
        if (s.hasStream) return { refused: 'stream_already_live' };
        if (s.streamsAttached > 0) return { refused: 'stream_already_used' };
      }
      // Only a session's first stream is a pre-connect hit; later ones are restarts (<Play digits>).
      if (s.streamsAttached === 0) this.deps.metrics.preconnect.inc({ result: 'attached' });
      s.attachStream(handle);
      return { session: s };
    }
    if (view.draining || view.atCapacity()) return this.refuseBusy(view, callSid, claims);
    return { session: this.startWithStream(view, callSid, claims, handle) };
  }

  private startWithStream(
    view: RoutingView,
    callSid: string,
    claims: StreamClaims,
    handle: LegMedia,
    resume?: Resume,
    agentId?: string,
  ): CallSession {
    const agent = view.agent(agentId) ?? view.agent(claims.agent) ?? view.agentForNumber(claims.to);
    const s = this.create({ callSid, agent, from: claims.from, to: claims.to }, resume);
    s.startEngine();
    s.attachStream(handle);
    return s;
  }

  /**
   * A call that reached us without its webhook (another replica answered it, or it was moved
   * here) while draining or full: like a new call at capacity, it hears the busy message.
   */
  private refuseBusy(view: RoutingView, callSid: string, claims: StreamClaims): AttachResult {
    const { logger, metrics, rest, settings } = this.deps;
    logger.warn(
      { callSid, draining: view.draining },
      'media stream refused: draining or at capacity; the caller gets the busy message',
    );
    const agent = view.agent(claims.agent) ?? view.agentForNumber(claims.to);
    const labels = metrics.callLabels.of({ agentId: agent.id, to: claims.to });
    metrics.calls.inc({ ...labels, outcome: view.draining ? 'refused_draining' : 'refused_capacity' });
    const refused = view.draining ? 'draining' : 'at_capacity';
    if (!rest) return { refused };
    const busy = rest.updateCallTwiml(callSid, hangupTwiml(settings.busy_message)).then((res) => {
      if (!res.ok) logger.warn({ callSid, status: res.status, code: res.code }, 'busy message: REST update failed');
      return res.ok;
    });
    return { refused, busy };
  }

  /** Resolves when no call is left, or after `timeoutMs` (returns whether all ended). */
  whenEmpty(timeoutMs: number): Promise<boolean> {
    if (this.calls.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.endedWaiters.delete(w);
        resolve(ok);
      };
      const w = () => done(true);
      const t = setTimeout(() => done(this.calls.size === 0), timeoutMs);
      this.endedWaiters.add(w);
    });
  }

  stop(): void {
    clearInterval(this.renewTimer);
  }
}
