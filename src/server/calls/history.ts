import type { CallRecord } from '../../call/record.js';
import { maskNumber } from '../../observability/redact.js';

/** A finished call as the console lists it: masked numbers, no transcript, no secret. */
export interface HistoryEntry {
  callSid: string;
  agent: string;
  caller: string;
  /** the dialed number, masked */
  dialed: string;
  /** `inbound`, `outbound-api`…, or inferred from the configured numbers (`inbound`/`outbound`) */
  direction: string;
  /** the caller number's last 4 digits, for the search; the full number is never kept here */
  suffix: string;
  outcome: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  tools: number;
  toolErrors: number;
  bargeIns: number;
  voiceToVoiceMs: number[];
  /** times the engine connection dropped during the call (each one reconnected or ended it) */
  engineDrops: number;
}

export interface AgentSummary {
  agent: string;
  calls: number;
  /** of those, the calls that started in the last hour */
  callsLastHour: number;
  /** engine connection drops (reconnects) over the calls kept */
  engineReconnects: number;
  medianDurationMs: number;
  transferRate: number;
  toolErrorRate: number;
  voiceToVoiceP50Ms: number | null;
  voiceToVoiceP95Ms: number | null;
}

/**
 * A past call's review (the console's detail view): everything in its record a supervisor reads,
 * numbers masked, nothing else. Tool arguments and results and the transcript are there only when
 * the record kept them (`call_record_transcript`).
 */
export interface HistoryDetail extends HistoryEntry {
  transcript: { role: string; text: string; atMs: number }[] | null;
  toolCalls: { name: string; outcome: string; durationMs: number; server?: string; args?: string; result?: string }[];
  verbs: { verb: string; result: string; atMs: number }[];
  /** the verbs that were transfers (the agent's or an operator's) */
  transfers: { verb: string; result: string; atMs: number }[];
  operator: { action: string; by: string; atMs: number } | null;
  /** supervisors who listened in: who, when, for how long */
  listens: { by: string; atMs: number; durationMs?: number }[];
  replies: { firstFrameMs: number | null; voiceToVoiceMs: number | null }[];
  dtmfCount: number;
  engineCloses: number[];
}

export interface HistoryQuery {
  outcome?: string;
  agent?: string;
  suffix?: string;
  callSid?: string;
  /** startedAt at or after (ISO) */
  since?: string;
  /** startedAt before (ISO) */
  until?: string;
  limit?: number;
  /** entries to skip (pagination: the previous page's `next`) */
  offset?: number;
}

export interface HistoryPage {
  calls: HistoryEntry[];
  /** matches in all */
  total: number;
  offset: number;
  /** the next page's offset, or null on the last page */
  next: number | null;
}

export const MAX_PAGE = 100;

/** The whole fleet's history (DATABASE_URL: src/control-plane/fleet-history.ts), read instead of this replica's. */
export interface FleetHistorySource {
  page(q: HistoryQuery): Promise<HistoryPage & { totalCapped: boolean }>;
  summary(): Promise<AgentSummary[]>;
  detail(callSid: string): Promise<HistoryDetail | undefined>;
}

/** Nearest-rank percentile of sorted values (null when there are none). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** The last `capacity` finished calls of this process, newest first, for the console's history view. */
export class CallHistory {
  private entries: HistoryEntry[] = [];
  private readonly details = new Map<string, HistoryDetail>();

  /** `ourNumbers`: the configured numbers now, to tell a call's direction when its record does not */
  constructor(
    private readonly capacity = 1000,
    private readonly ourNumbers: () => Iterable<string> = () => [],
  ) {}

  /** The record's direction, else told by the configured numbers (inbound to ours, outbound from ours). */
  directionOf(r: Pick<CallRecord, 'direction' | 'from' | 'to'>): string {
    if (r.direction) return r.direction;
    const ours = new Set(this.ourNumbers());
    if (r.from && ours.has(r.from)) return 'outbound';
    if (r.to && ours.has(r.to)) return 'inbound';
    return 'unknown';
  }

  add(r: CallRecord): void {
    const entry = entryOf(r, this.directionOf(r));
    this.entries.unshift(entry);
    this.details.set(r.callSid, detailOf(r, entry, r.dtmf.length));
    while (this.entries.length > this.capacity) this.details.delete(this.entries.pop()!.callSid);
  }

  /** A past call's review, or undefined when this process has no record of it. */
  detail(callSid: string): HistoryDetail | undefined {
    return this.details.get(callSid);
  }

  /** Newest first, one page: the filters of `search`, then `offset` and a bounded `limit`. */
  page(q: HistoryQuery): HistoryPage {
    const all = this.search({ ...q, limit: Number.MAX_SAFE_INTEGER });
    const offset = Math.max(0, Math.floor(q.offset ?? 0));
    const limit = Math.min(Math.max(Math.floor(q.limit ?? 25), 1), MAX_PAGE);
    const calls = all.slice(offset, offset + limit);
    return { calls, total: all.length, offset, next: offset + limit < all.length ? offset + limit : null };
  }

  /** Newest first; `suffix` matches the end of the caller's number (at most its last 4 digits). */
  search(q: HistoryQuery): HistoryEntry[] {
    const suffix = (q.suffix ?? '').replace(/\D/g, '').slice(-4);
    const limit = Math.max(q.limit ?? 50, 1);
    const since = q.since ? Date.parse(q.since) : NaN;
    const until = q.until ? Date.parse(q.until) : NaN;
    const out: HistoryEntry[] = [];
    for (const e of this.entries) {
      if (q.outcome && e.outcome !== q.outcome) continue;
      if (q.agent && e.agent !== q.agent) continue;
      if (q.callSid && e.callSid !== q.callSid) continue;
      if (suffix && !e.suffix.endsWith(suffix)) continue;
      const at = Date.parse(e.startedAt);
      if (!Number.isNaN(since) && at < since) continue;
      if (!Number.isNaN(until) && at >= until) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Per tool name: its calls and the ones that did not succeed, over the kept calls that ended at
   * or after `since` (epoch ms). A call's record lists each tool call it made (record.ts).
   */
  toolUsage(since: number): Map<string, { calls: number; errors: number }> {
    const out = new Map<string, { calls: number; errors: number }>();
    for (const e of this.entries) {
      if (Date.parse(e.endedAt) < since) continue;
      for (const t of this.details.get(e.callSid)?.toolCalls ?? []) {
        const u = out.get(t.name) ?? { calls: 0, errors: 0 };
        u.calls += 1;
        if (t.outcome !== 'ok') u.errors += 1;
        out.set(t.name, u);
      }
    }
    return out;
  }

  /** Per agent over the calls kept (summarize). */
  summary(now = Date.now()): AgentSummary[] {
    return summarize(this.entries, now);
  }
}

/** Per agent: calls, median duration, transfer rate, tool error rate, p50/p95 voice-to-voice. */
export function summarize(entries: readonly HistoryEntry[], now = Date.now()): AgentSummary[] {
  const hourAgo = now - 3_600_000;
  const by = new Map<string, HistoryEntry[]>();
  for (const e of entries) by.set(e.agent, [...(by.get(e.agent) ?? []), e]);
  return [...by.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([agent, es]) => {
      const durations = es.map((e) => e.durationMs).sort((a, b) => a - b);
      const v2v = es.flatMap((e) => e.voiceToVoiceMs).sort((a, b) => a - b);
      const tools = es.reduce((n, e) => n + e.tools, 0);
      const errors = es.reduce((n, e) => n + e.toolErrors, 0);
      return {
        agent,
        calls: es.length,
        callsLastHour: es.filter((e) => Date.parse(e.startedAt) >= hourAgo).length,
        engineReconnects: es.reduce((n, e) => n + e.engineDrops, 0),
        medianDurationMs: percentile(durations, 50) ?? 0,
        transferRate: es.filter((e) => e.outcome === 'transferred').length / es.length,
        toolErrorRate: tools ? errors / tools : 0,
        voiceToVoiceP50Ms: percentile(v2v, 50),
        voiceToVoiceP95Ms: percentile(v2v, 95),
      };
    });
}

/** A finished call as the console lists it (numbers masked; a masked number masks to itself). */
export function entryOf(r: Omit<CallRecord, 'dtmf'>, direction: string): HistoryEntry {
  const digits = (r.from ?? '').replace(/\D/g, '');
  return {
    callSid: r.callSid,
    agent: r.agent,
    caller: maskNumber(r.from),
    dialed: maskNumber(r.to),
    direction,
    suffix: digits.slice(-4),
    outcome: r.outcome,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    tools: r.tools.length,
    toolErrors: r.tools.filter((t) => t.outcome !== 'ok').length,
    bargeIns: r.bargeIns,
    engineDrops: r.engineCloses.length,
    voiceToVoiceMs: r.playback.replies
      .map((x) => x.voiceToVoiceMs)
      .filter((v): v is number => v !== undefined && v >= 0),
  };
}

/**
 * A past call's review. Everything kept here was masked where it was recorded (transcript:
 * redactNumbers; tool arguments and results: previewForPage); the numbers are masked in the entry.
 */
export function detailOf(r: Omit<CallRecord, 'dtmf'>, entry: HistoryEntry, dtmfCount: number): HistoryDetail {
  const isTransfer = (v: { verb: string }) => /transfer/.test(v.verb);
  return {
    ...entry,
    transcript: r.transcript ? r.transcript.map((t) => ({ role: t.role, text: t.text, atMs: t.atMs })) : null,
    toolCalls: r.tools.map((t) => ({
      name: t.name,
      outcome: t.outcome,
      durationMs: t.durationMs,
      ...(t.server ? { server: t.server } : {}),
      ...(t.args !== undefined ? { args: t.args } : {}),
      ...(t.result !== undefined ? { result: t.result } : {}),
    })),
    verbs: r.verbs.map((v) => ({ verb: v.verb, result: v.result, atMs: v.atMs })),
    transfers: r.verbs.filter(isTransfer).map((v) => ({ verb: v.verb, result: v.result, atMs: v.atMs })),
    operator: r.operator ? { action: r.operator.action, by: r.operator.by, atMs: r.operator.atMs } : null,
    listens: (r.listens ?? []).map((l) => ({ ...l })),
    replies: r.playback.replies.map((x) => ({
      firstFrameMs: x.firstFrameMs ?? null,
      voiceToVoiceMs: x.voiceToVoiceMs ?? null,
    })),
    // the digits themselves are not shown (a card number, a PIN): how many were pressed
    dtmfCount,
    engineCloses: [...r.engineCloses],
  };
}
