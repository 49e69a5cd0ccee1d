import type { CallRecord } from '../call/record.js';
import { maskNumber } from '../observability/redact.js';

/** A finished call as the console lists it: masked number, no transcript, no secret. */
export interface HistoryEntry {
  callSid: string;
  agent: string;
  caller: string;
  /** the caller number's last 4 digits, for the search; the full number is never kept here */
  suffix: string;
  outcome: string;
  startedAt: string;
  durationMs: number;
  tools: number;
  toolErrors: number;
  bargeIns: number;
  voiceToVoiceMs: number[];
}

export interface AgentSummary {
  agent: string;
  calls: number;
  medianDurationMs: number;
  transferRate: number;
  toolErrorRate: number;
  voiceToVoiceP50Ms: number | null;
  voiceToVoiceP95Ms: number | null;
}

export interface HistoryQuery {
  outcome?: string;
  agent?: string;
  suffix?: string;
  limit?: number;
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

  constructor(private readonly capacity = 1000) {}

  add(r: CallRecord): void {
    const digits = (r.from ?? '').replace(/\D/g, '');
    this.entries.unshift({
      callSid: r.callSid,
      agent: r.agent,
      caller: maskNumber(r.from),
      suffix: digits.slice(-4),
      outcome: r.outcome,
      startedAt: r.startedAt,
      durationMs: r.durationMs,
      tools: r.tools.length,
      toolErrors: r.tools.filter((t) => t.outcome !== 'ok').length,
      bargeIns: r.bargeIns,
      voiceToVoiceMs: r.playback.replies
        .map((x) => x.voiceToVoiceMs)
        .filter((v): v is number => v !== undefined && v >= 0),
    });
    if (this.entries.length > this.capacity) this.entries.length = this.capacity;
  }

  /** Newest first; `suffix` matches the end of the caller's number (at most its last 4 digits). */
  search(q: HistoryQuery): HistoryEntry[] {
    const suffix = (q.suffix ?? '').replace(/\D/g, '').slice(-4);
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
    const out: HistoryEntry[] = [];
    for (const e of this.entries) {
      if (q.outcome && e.outcome !== q.outcome) continue;
      if (q.agent && e.agent !== q.agent) continue;
      if (suffix && !e.suffix.endsWith(suffix)) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Per agent: calls, median duration, transfer rate, tool error rate, p50/p95 voice-to-voice. */
  summary(): AgentSummary[] {
    const by = new Map<string, HistoryEntry[]>();
    for (const e of this.entries) by.set(e.agent, [...(by.get(e.agent) ?? []), e]);
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
          medianDurationMs: percentile(durations, 50) ?? 0,
          transferRate: es.filter((e) => e.outcome === 'transferred').length / es.length,
          toolErrorRate: tools ? errors / tools : 0,
          voiceToVoiceP50Ms: percentile(v2v, 50),
          voiceToVoiceP95Ms: percentile(v2v, 95),
        };
      });
  }
}
