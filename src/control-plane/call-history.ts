import type { Queryable } from './pool.js';
import { encodeCursor, type Page } from './pagination.js';
import type { StoredRecord } from './call-row.js';

/**
 * Reading the fleet's call history (table call_records): newest first, the CallSid breaking
 * ties, one page at a time by keyset — a cursor is the (started_at, call_sid) of the last item
 * given, so a page costs an index range whatever the depth, and rows written meanwhile neither
 * repeat nor shift a later page.
 */

export interface CallFilter {
  limit: number;
  /** started at or after (ms since the epoch) */
  since?: number;
  /** started before */
  until?: number;
  /** the last four digits of the caller's or the dialed number */
  numberLast4?: string;
  agent?: string;
  outcome?: string;
  transport?: string;
  callSid?: string;
  /** the sort key of the last item of the previous page */
  after?: CallKey;
}

export interface CallKey {
  startedAt: string;
  callSid: string;
}

export interface CallItem {
  call_sid: string;
  replica: string;
  agent: string;
  transport: string;
  direction: string | null;
  outcome: string;
  caller: string;
  dialed: string;
  started_at: string;
  ended_at: string;
  duration_ms: number;
}

export interface CallDetail extends CallItem {
  record: StoredRecord;
}

/** A row as pg returns it: the item's fields, with the timestamps as Dates. */
type Row = Omit<CallItem, 'started_at' | 'ended_at'> & { started_at: Date; ended_at: Date; record?: StoredRecord };

const ITEM_COLUMNS =
  'call_sid, replica, agent, transport, direction, outcome, caller, dialed, started_at, ended_at, duration_ms';

const itemOf = (r: Row): CallItem => ({
  call_sid: r.call_sid,
  replica: r.replica,
  agent: r.agent,
  transport: r.transport,
  direction: r.direction,
  outcome: r.outcome,
  caller: r.caller,
  dialed: r.dialed,
  started_at: r.started_at.toISOString(),
  ended_at: r.ended_at.toISOString(),
  duration_ms: r.duration_ms,
});

/** A cursor's text: the ISO time and the CallSid (a CallSid holds no space). */
export function callCursor(k: CallKey): string {
  return encodeCursor(`${k.startedAt} ${k.callSid}`);
}

/** The key of a decoded cursor, or undefined when it is not one of this list's. */
export function callKeyOf(decoded: string | number | undefined): CallKey | undefined {
  if (typeof decoded !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) ([A-Za-z0-9_-]{1,64})$/.exec(decoded);
  if (!m || !Number.isFinite(Date.parse(m[1]!))) return undefined;
  return { startedAt: m[1]!, callSid: m[2]! };
}

export async function listCalls(db: Queryable, f: CallFilter): Promise<Page<CallItem>> {
  const where: string[] = [];
  const args: unknown[] = [];
  const arg = (v: unknown) => `$${args.push(v)}`;
  if (f.since !== undefined) where.push(`started_at >= ${arg(new Date(f.since).toISOString())}`);
  if (f.until !== undefined) where.push(`started_at < ${arg(new Date(f.until).toISOString())}`);
  if (f.numberLast4 !== undefined) {
    const n = arg(f.numberLast4);
    where.push(`(caller_last4 = ${n} OR dialed_last4 = ${n})`);
  }
  if (f.agent !== undefined) where.push(`agent = ${arg(f.agent)}`);
  if (f.outcome !== undefined) where.push(`outcome = ${arg(f.outcome)}`);
  if (f.transport !== undefined) where.push(`transport = ${arg(f.transport)}`);
  if (f.callSid !== undefined) where.push(`call_sid = ${arg(f.callSid)}`);
  if (f.after) where.push(`(started_at, call_sid) < (${arg(f.after.startedAt)}::timestamptz, ${arg(f.after.callSid)})`);
  const r = await db.query<Row>(
    `SELECT ${ITEM_COLUMNS} FROM call_records ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY started_at DESC, call_sid DESC LIMIT ${arg(f.limit + 1)}`,
    args,
  );
  const more = r.rows.length > f.limit;
  const shown = more ? r.rows.slice(0, f.limit) : r.rows;
  const last = shown[shown.length - 1];
  return {
    items: shown.map(itemOf),
    next_cursor: more && last ? callCursor({ startedAt: last.started_at.toISOString(), callSid: last.call_sid }) : null,
  };
}

export async function getCall(db: Queryable, callSid: string): Promise<CallDetail | undefined> {
  const r = await db.query<Row>(`SELECT ${ITEM_COLUMNS}, record FROM call_records WHERE call_sid = $1`, [callSid]);
  const row = r.rows[0];
  return row ? { ...itemOf(row), record: row.record! } : undefined;
}
