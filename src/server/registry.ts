import type { Turn } from '../call/memory.js';
import { CallSession, type CallInfo, type SessionDeps } from '../call/session.js';
import type { CallRecord } from '../call/record.js';

/** A call handed to a human: kept briefly so a failed dial can come back with its context. */
interface Parked {
  info: CallInfo;
  turns: readonly Turn[];
  expires: number;
}

const MAX_PARKED = 10_000;
const ENDED_MEMORY_MS = 10 * 60_000;

/**
 * Every live call, keyed by CallSid. The only shared state of the bridge: sessions never reach
 * each other, and a CallSid that is not here simply has no session.
 */
export class CallRegistry {
  private readonly calls = new Map<string, CallSession>();
  private readonly parked = new Map<string, Parked>();
  /** calls Twilio reported over (final status callback) → when: a later dial-action must not reopen them */
  private readonly endedAtTwilio = new Map<string, number>();
  private readonly endedWaiters = new Set<() => void>();

  constructor(
    private readonly deps: Omit<SessionDeps, 'onEnded'>,
    private readonly onRecord: (r: CallRecord) => void,
  ) {}

  get size(): number {
    return this.calls.size;
  }

  get(callSid: string): CallSession | undefined {
    return this.calls.get(callSid);
  }

  list(): CallSession[] {
    return [...this.calls.values()];
  }

  /** Creates the session of a call (the caller checked the capacity and that none exists). */
  create(info: CallInfo, resumeTurns?: readonly Turn[]): CallSession {
    const session = new CallSession(info, {
      ...this.deps,
      onEnded: (s, record) => this.onSessionEnded(s, record),
    });
    for (const t of resumeTurns ?? []) session.memory.add(t.role, t.text, t.atMs);
    this.calls.set(info.callSid, session);
    this.deps.metrics.activeCalls.set(this.calls.size);
    return session;
  }

  private onSessionEnded(s: CallSession, record: CallRecord): void {
    if (this.calls.get(s.callSid) === s) this.calls.delete(s.callSid);
    this.deps.metrics.activeCalls.set(this.calls.size);
    this.deps.metrics.calls.inc({ outcome: record.outcome });
    if (record.outcome === 'transferred') {
      const ttl = (s.agent.transfer.timeout_s + 60) * 1000;
      this.parked.set(s.callSid, { info: s.info, turns: [...s.memory.all()], expires: Date.now() + ttl });
      this.sweepParked();
    }
    this.onRecord(record);
    if (this.calls.size === 0) for (const w of this.endedWaiters) w();
  }

  /** Takes a parked call back (dial-action): its info and conversation, if still known. */
  unpark(callSid: string): Parked | undefined {
    this.sweepParked();
    const p = this.parked.get(callSid);
    this.parked.delete(callSid);
    return p;
  }

  /** A final status callback for the call: its parked context is dropped and the end remembered (bounded, 10 min). */
  noteEndedAtTwilio(callSid: string): void {
    this.parked.delete(callSid);
    this.endedAtTwilio.delete(callSid);
    this.endedAtTwilio.set(callSid, Date.now() + ENDED_MEMORY_MS);
    const now = Date.now();
    for (const [k, until] of this.endedAtTwilio) {
      if (until >= now && this.endedAtTwilio.size <= MAX_PARKED) break;
      this.endedAtTwilio.delete(k);
    }
  }

  /** Whether Twilio has reported the call over (within the last 10 minutes). */
  hasEndedAtTwilio(callSid: string): boolean {
    const until = this.endedAtTwilio.get(callSid);
    return until !== undefined && until >= Date.now();
  }

  private sweepParked(): void {
    const now = Date.now();
    for (const [k, p] of this.parked) if (p.expires < now) this.parked.delete(k);
    while (this.parked.size > MAX_PARKED) this.parked.delete(this.parked.keys().next().value!);
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
}

