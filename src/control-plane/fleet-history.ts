import {
  detailOf,
  entryOf,
  MAX_PAGE,
  summarize,
  type AgentSummary,
  type FleetHistorySource,
  type HistoryDetail,
  type HistoryEntry,
  type HistoryPage,
  type HistoryQuery,
} from '../server/calls/history.js';
import type { StoredRecord } from './call-row.js';
import type { Queryable } from './pool.js';

/**
 * The console's history read from the fleet's table (DATABASE_URL) instead of this replica's
 * memory: the same entries, details and per-agent summary (server/calls/history.ts makes them from a
 * record either way), for every replica's calls. The console's own paging (offset, a total) is
 * kept for its page; the total is counted up to TOTAL_CAP, and the summary covers the fleet's
 * last SUMMARY_CALLS calls, as the replica's covers its last 1,000.
 */

export const TOTAL_CAP = 10_000;
export const SUMMARY_CALLS = 1000;

interface EntryRow {
  call_sid: string;
  agent: string;
  caller: string;
  dialed: string;
  direction: string | null;
  caller_last4: string;
  outcome: string;
  started_at: Date;
  ended_at: Date;
  duration_ms: number;
  tools: number;
  tool_errors: number;
  barge_ins: number | null;
  engine_drops: number;
  v2v: number[];
}

// What an entry needs of a record, computed by the database (a record's transcript stays there).
const ENTRY_COLUMNS = `call_sid, agent, caller, dialed, direction, caller_last4, outcome, started_at, ended_at, duration_ms,
  jsonb_array_length(record->'tools') AS tools,
  (SELECT count(*) FROM jsonb_array_elements(record->'tools') t WHERE t->>'outcome' IS DISTINCT FROM 'ok')::int AS tool_errors,
  (record->>'bargeIns')::int AS barge_ins,
  jsonb_array_length(record->'engineCloses') AS engine_drops,
  ARRAY(SELECT (x->>'voiceToVoiceMs')::float8 FROM jsonb_array_elements(record->'playback'->'replies') x
        WHERE (x->>'voiceToVoiceMs')::float8 >= 0) AS v2v`;

const entryOfRow = (r: EntryRow): HistoryEntry => ({
  callSid: r.call_sid,
  agent: r.agent,
  caller: r.caller,
  dialed: r.dialed,
  direction: r.direction ?? 'unknown',
  suffix: r.caller_last4,
  outcome: r.outcome,
  startedAt: r.started_at.toISOString(),
  endedAt: r.ended_at.toISOString(),
  durationMs: r.duration_ms,
  tools: r.tools,
  toolErrors: r.tool_errors,
  bargeIns: r.barge_ins ?? 0,
  engineDrops: r.engine_drops,
  voiceToVoiceMs: r.v2v,
});

function whereOf(q: HistoryQuery, args: unknown[]): string {
  const where: string[] = [];
  const arg = (v: unknown) => `$${args.push(v)}`;
  if (q.outcome) where.push(`outcome = ${arg(q.outcome)}`);
  if (q.agent) where.push(`agent = ${arg(q.agent)}`);
  if (q.callSid) where.push(`call_sid = ${arg(q.callSid)}`);
  const suffix = (q.suffix ?? '').replace(/\D/g, '').slice(-4);
  if (suffix) where.push(`right(caller_last4, ${suffix.length}) = ${arg(suffix)}`);
  const since = q.since ? Date.parse(q.since) : NaN;
  const until = q.until ? Date.parse(q.until) : NaN;
  if (!Number.isNaN(since)) where.push(`started_at >= ${arg(new Date(since).toISOString())}`);
  if (!Number.isNaN(until)) where.push(`started_at < ${arg(new Date(until).toISOString())}`);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

export class FleetHistory implements FleetHistorySource {
  constructor(private readonly db: Queryable) {}

  /** Newest first, one page, and how many match (up to TOTAL_CAP). */
  async page(q: HistoryQuery): Promise<HistoryPage & { totalCapped: boolean }> {
    const offset = Math.max(0, Math.floor(q.offset ?? 0));
    const limit = Math.min(Math.max(Math.floor(q.limit ?? 25), 1), MAX_PAGE);
    const args: unknown[] = [];
    const where = whereOf(q, args);
    const [rows, count] = await Promise.all([
      this.db.query<EntryRow>(
        `SELECT ${ENTRY_COLUMNS} FROM call_records ${where}
         ORDER BY started_at DESC, call_sid DESC LIMIT $${args.length + 1} OFFSET $${args.length + 2}`,
        [...args, limit, offset],
      ),
      this.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM call_records ${where} LIMIT $${args.length + 1}) s`,
        [...args, TOTAL_CAP + 1],
      ),
    ]);
    const found = count.rows[0]?.n ?? 0;
    const total = Math.min(found, TOTAL_CAP);
    return {
      calls: rows.rows.map(entryOfRow),
      total,
      totalCapped: found > TOTAL_CAP,
      offset,
      next: offset + limit < found ? offset + limit : null,
    };
  }

  async summary(now = Date.now()): Promise<AgentSummary[]> {
    const r = await this.db.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM call_records ORDER BY started_at DESC, call_sid DESC LIMIT $1`,
      [SUMMARY_CALLS],
    );
    return summarize(r.rows.map(entryOfRow), now);
  }

  async detail(callSid: string): Promise<HistoryDetail | undefined> {
    const r = await this.db.query<{ record: StoredRecord; direction: string | null }>(
      'SELECT record, direction FROM call_records WHERE call_sid = $1',
      [callSid],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const rec = row.record;
    return detailOf(rec, entryOf(rec, row.direction ?? 'unknown'), rec.dtmfCount);
  }
}
