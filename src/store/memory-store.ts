import {
  countOp,
  type ControlAnswer,
  type ControlRequest,
  type CallSeen,
  type DirectoryEntry,
  type FleetStore,
  type ParkedCall,
} from './fleet-store.js';

/** Bound on every table: a flood evicts the oldest entries instead of growing memory. */
const MAX_ENTRIES = 100_000;

class Expiring<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  set(k: string, v: V, ttlMs: number): void {
    this.m.delete(k);
    this.m.set(k, { v, until: Date.now() + ttlMs });
    if (this.m.size > MAX_ENTRIES) this.sweep();
  }
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  values(): V[] {
    this.sweep();
    return [...this.m.values()].map((e) => e.v);
  }
  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.m) if (e.until < now) this.m.delete(k);
    // Oldest first, down to nine tenths: a full table is not swept again on every insert.
    if (this.m.size > MAX_ENTRIES)
      for (const k of this.m.keys()) {
        if (this.m.size <= MAX_ENTRIES * 0.9) break;
        this.m.delete(k);
      }
  }
}

/**
 * The one-replica store: everything in this process, as the bridge always kept it. No fleet,
 * so no control channel (every call is local) and no failure mode.
 */
export class MemoryStore implements FleetStore {
  readonly kind = 'memory' as const;
  readonly shared = false;
  readonly ops = new Map<string, number>();
  onError?: (op: string, err: Error) => void;
  private readonly calls = new Expiring<DirectoryEntry>();
  private readonly slots = new Expiring<true>();
  private readonly parked = new Expiring<ParkedCall>();
  private readonly ended = new Expiring<true>();
  private readonly seen = new Expiring<true>();
  private readonly answers = new Expiring<string>();
  private readonly used = new Expiring<true>();
  private readonly refused = new Expiring<{ n: number }>();

  constructor(
    readonly replicaId: string,
    private readonly leaseMs = 15_000,
  ) {}

  health(): 'ok' {
    return 'ok';
  }

  async claimSlot(callSid: string, max: number): Promise<boolean> {
    countOp(this.ops, 'claimSlot');
    if (!this.slots.get(callSid) && this.slots.values().length >= max) return false;
    this.slots.set(callSid, true, this.leaseMs);
    return true;
  }

  async register(e: DirectoryEntry): Promise<void> {
    countOp(this.ops, 'register');
    this.calls.set(e.callSid, { ...e }, this.leaseMs);
    this.slots.set(e.callSid, true, this.leaseMs);
  }

  async release(callSid: string, owner?: string): Promise<void> {
    countOp(this.ops, 'release');
    const e = this.calls.get(callSid);
    if (owner !== undefined && e && e.replica !== owner) return;
    this.calls.delete(callSid);
    this.slots.delete(callSid);
  }

  async renew(entries: readonly DirectoryEntry[]): Promise<void> {
    countOp(this.ops, 'renew');
    for (const e of entries) {
      this.calls.set(e.callSid, { ...e }, this.leaseMs);
      this.slots.set(e.callSid, true, this.leaseMs);
    }
  }

  async list(): Promise<DirectoryEntry[]> {
    countOp(this.ops, 'list');
    return this.calls.values();
  }

  async lookup(callSid: string): Promise<DirectoryEntry | undefined> {
    countOp(this.ops, 'lookup');
    return this.calls.get(callSid);
  }

  async count(): Promise<number> {
    countOp(this.ops, 'count');
    return this.slots.values().length;
  }

  async park(p: ParkedCall, ttlMs: number): Promise<void> {
    countOp(this.ops, 'park');
    this.parked.set(p.callSid, p, ttlMs);
  }

  async unpark(callSid: string): Promise<ParkedCall | undefined> {
    countOp(this.ops, 'unpark');
    const p = this.parked.get(callSid);
    this.parked.delete(callSid);
    return p;
  }

  async unparkIf(
    callSid: string,
    reason: ParkedCall['reason'],
    nonce?: string,
  ): Promise<ParkedCall | 'stale' | undefined> {
    countOp(this.ops, 'unparkIf');
    const p = this.parked.get(callSid);
    if (!p) return undefined;
    // Another transfer's (or a moved call's) context: not this request's to take.
    if (p.reason !== reason || (nonce !== undefined && p.nonce !== nonce)) return 'stale';
    this.parked.delete(callSid);
    return p;
  }

  async dropParked(callSid: string): Promise<void> {
    countOp(this.ops, 'dropParked');
    this.parked.delete(callSid);
  }

  async noteEnded(callSid: string, ttlMs: number): Promise<void> {
    countOp(this.ops, 'noteEnded');
    this.ended.set(callSid, true, ttlMs);
  }

  async hasEnded(callSid: string): Promise<boolean> {
    countOp(this.ops, 'hasEnded');
    return this.ended.get(callSid) === true;
  }

  async claimCall(route: string, callSid: string, rememberMs: number): Promise<CallSeen> {
    countOp(this.ops, 'claimCall');
    if (this.ended.get(callSid)) return { state: 'ended' };
    const k = `${route} ${callSid}`;
    if (!this.seen.get(k)) {
      this.seen.set(k, true, rememberMs);
      return { state: 'new' };
    }
    const twiml = this.answers.get(k);
    return twiml === undefined ? { state: 'seen' } : { state: 'answered', twiml };
  }

  async saveAnswer(route: string, callSid: string, twiml: string, ttlMs: number): Promise<void> {
    countOp(this.ops, 'saveAnswer');
    this.answers.set(`${route} ${callSid}`, twiml, ttlMs);
  }

  async consumeOnce(kind: string, id: string, ttlMs: number): Promise<boolean> {
    countOp(this.ops, 'consumeOnce');
    const k = `${kind}:${id}`;
    if (this.used.get(k)) return false;
    this.used.set(k, true, ttlMs);
    return true;
  }

  async noteRefusal(ip: string, windowMs: number): Promise<number> {
    countOp(this.ops, 'noteRefusal');
    const h = this.refused.get(ip);
    if (h) return ++h.n;
    this.refused.set(ip, { n: 1 }, windowMs);
    return 1;
  }

  async refusals(ip: string): Promise<number> {
    countOp(this.ops, 'refusals');
    return this.refused.get(ip)?.n ?? 0;
  }

  onControl(_handler: (req: ControlRequest) => Promise<ControlAnswer>): void {
    // One replica: every call is local, nothing is ever sent here.
  }

  async sendControl(): Promise<'unavailable'> {
    return 'unavailable';
  }

  async close(): Promise<void> {}
}
