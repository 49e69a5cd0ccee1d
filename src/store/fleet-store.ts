/**
 * What must cross a replica boundary, behind one interface: the call directory (with leases
 * that also count fleet-wide concurrency), parked conversations, calls Twilio reported over,
 * calls whose session-opening webhook was answered (and that first answer), single-use token ids, the failed-signature counts, and the control channel between replicas.
 *
 * Two implementations: MemoryStore (one replica, nothing to install; the default) and
 * RedisStore (REDIS_URL). Nothing on the audio path calls the store: a call costs a bounded,
 * constant number of operations whatever its length (test/unit/store/call-store-ops.test.ts).
 *
 * Every method resolves: a store that is unreachable answers from the caller's fallback
 * (documented per method) and counts the error; it never throws into a call and never blocks.
 */
import type { Turn } from '../call/memory.js';

/** One call in the fleet's directory. */
export interface DirectoryEntry {
  callSid: string;
  /** the replica whose process holds the call's session */
  replica: string;
  agent: string;
  from?: string;
  to?: string;
  /** Unix ms */
  startedAt: number;
  status: string;
}

/** A call handed to a human (or moved by a drain), kept so another replica can resume it. */
export interface ParkedCall {
  callSid: string;
  agent: string;
  from?: string;
  to?: string;
  direction?: string;
  turns: Turn[];
  /** why it was parked: a transfer (dial-action brings it back) or a drain (a moved call) */
  reason: 'transfer' | 'moved';
  /** what the resumed agent is told about why the call is back */
  note?: string;
  /** a transfer's one-time nonce, in its `<Dial action>` URL: only that dial-action takes it back */
  nonce?: string;
}

/**
 * What the fleet knows of a CallSid when a webhook that would open a session for it arrives
 * (claimCall): never seen (this request claimed it), seen with its first answer still held,
 * seen (the first answer is still being made, or no longer held), or reported over by Twilio.
 */
export type CallSeen = { state: 'new' } | { state: 'answered'; twiml: string } | { state: 'seen' } | { state: 'ended' };

/** `by`: who asked ('console', 'admin_api'…), carried to the owner for its call record. */
export type ControlOp =
  | { op: 'hangup'; by?: string }
  | { op: 'transfer'; target?: string; by?: string }
  /** a warm transfer's human-leg callback that reached another replica (signature already checked there) */
  | { op: 'warm_accept'; nonce: string; humanSid: string; digits?: string }
  | { op: 'warm_status'; nonce: string; humanSid: string; status: string };

/** What the owner of a call answers to a control request. */
export interface ControlAnswer {
  /** HTTP-like: 202 accepted, 404 not here, 409 already ending */
  status: number;
  body: Record<string, unknown>;
}

export interface ControlRequest {
  id: string;
  from: string;
  callSid: string;
  cmd: ControlOp;
}

export type StoreHealth = 'ok' | 'degraded';

export interface FleetStore {
  readonly kind: 'memory' | 'redis';
  /** this process's id in the fleet */
  readonly replicaId: string;
  /** whether the fleet is shared (another process may hold calls) */
  readonly shared: boolean;
  health(): StoreHealth;

  /**
   * Claims a concurrency slot for `callSid` when fewer than `max` live calls hold one (a call
   * already holding one keeps it). Atomic across the fleet. Unreachable store: undefined (the
   * caller falls back to its own count).
   */
  claimSlot(callSid: string, max: number): Promise<boolean | undefined>;
  /** Records (or updates) a call this replica owns; holds its slot under a lease. */
  register(entry: DirectoryEntry): Promise<void>;
  /**
   * Drops a call from the directory and frees its slot. With `owner`, only if that replica still
   * owns the entry (a moved call's new owner keeps its own); without, unconditionally (a final
   * status callback, on any replica).
   */
  release(callSid: string, owner?: string): Promise<void>;
  /** Renews the leases of this replica's calls, re-writing their entries (one batched operation per renewal period, not per call). */
  renew(entries: readonly DirectoryEntry[]): Promise<void>;
  /** The fleet's live calls (leases not expired). Unreachable store: undefined. */
  list(): Promise<DirectoryEntry[] | undefined>;
  lookup(callSid: string): Promise<DirectoryEntry | undefined>;
  /** live calls holding a slot, fleet-wide; unreachable: undefined */
  count(): Promise<number | undefined>;

  park(p: ParkedCall, ttlMs: number): Promise<void>;
  /** Takes a parked call (atomically: at most one replica gets it). */
  unpark(callSid: string): Promise<ParkedCall | undefined>;
  /**
   * Takes a parked call only if it was parked for `reason` (and, given a `nonce`, with that
   * nonce), atomically; any other entry (a later transfer of the same call, a moved call) stays
   * parked and the answer is 'stale'. Nothing parked, or the store unreachable: undefined.
   */
  unparkIf(callSid: string, reason: ParkedCall['reason'], nonce?: string): Promise<ParkedCall | 'stale' | undefined>;
  dropParked(callSid: string): Promise<void>;

  /** Twilio reported the call over (remembered for `ttlMs`): no webhook, dial-action or stream may reopen it. */
  noteEnded(callSid: string, ttlMs: number): Promise<void>;
  /** Whether Twilio reported the call over; unreachable store: undefined (the caller decides: open or closed). */
  hasEnded(callSid: string): Promise<boolean | undefined>;

  /**
   * The first webhook of `route` that would open a session for `callSid` claims the call,
   * atomically fleet-wide, and the claim is remembered for `rememberMs`; a later one learns what
   * is known (CallSeen). Unreachable store: undefined (the caller fails closed).
   */
  claimCall(route: string, callSid: string, rememberMs: number): Promise<CallSeen | undefined>;
  /** Holds the first answer of a claimed call for `ttlMs`: a retry of its webhook is answered the same. */
  saveAnswer(route: string, callSid: string, twiml: string, ttlMs: number): Promise<void>;

  /** Marks an id used, fleet-wide and atomically; false if it already was. Unreachable: undefined. */
  consumeOnce(kind: string, id: string, ttlMs: number): Promise<boolean | undefined>;

  /** Counts a refusal for `ip` in its fixed window; returns the count so far (unreachable: undefined). */
  noteRefusal(ip: string, windowMs: number): Promise<number | undefined>;
  refusals(ip: string): Promise<number | undefined>;

  /** Serves control requests addressed to this replica. */
  onControl(handler: (req: ControlRequest) => Promise<ControlAnswer>): void;
  /** Asks `replica` to act on a call; resolves with its answer, or 'timeout' / 'unavailable'. */
  sendControl(
    replica: string,
    callSid: string,
    cmd: ControlOp,
    timeoutMs: number,
  ): Promise<ControlAnswer | 'timeout' | 'unavailable'>;

  /** told of every failed operation (metrics, rate-limited log) */
  onError?: (op: string, err: Error) => void;
  /** operations issued so far, by name (the store-ops test and the benchmark read it) */
  readonly ops: Map<string, number>;
  close(): Promise<void>;
}

export function countOp(ops: Map<string, number>, op: string): void {
  ops.set(op, (ops.get(op) ?? 0) + 1);
}
