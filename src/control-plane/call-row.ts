import type { CallRecord } from '../call/record.js';
import { maskForPage, maskNumber } from '../observability/redact.js';

/**
 * A finished call's record as the fleet's history keeps it (table call_records): what the bridge
 * writes today, masked for a table that people with a viewer key read. The numbers become
 * `•••4321` plus their last four digits (the search), never whole; the DTMF digits (a PIN, a card
 * number) become how many were pressed; a transfer's whisper and every verb result are masked as
 * a page is. The transcript and tool previews were redacted where they were recorded.
 */

export interface CallRow {
  call_sid: string;
  replica: string;
  agent: string;
  transport: 'twilio' | 'sip';
  direction: string | null;
  outcome: string;
  caller: string;
  caller_last4: string;
  dialed: string;
  dialed_last4: string;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  record: StoredRecord;
}

/** The record kept: from/to masked, dtmf replaced by dtmfCount. */
export type StoredRecord = Omit<CallRecord, 'from' | 'to' | 'dtmf'> & { from: string; to: string; dtmfCount: number };

const last4 = (n: string | undefined) => (n ?? '').replace(/\D/g, '').slice(-4);

/** An ISO time that PostgreSQL reads back as the same instant (else the end's). */
function isoOr(v: string, fallback: string): string {
  const t = Date.parse(v);
  return Number.isFinite(t) ? new Date(t).toISOString() : fallback;
}

export function callRowOf(r: CallRecord, replica: string): CallRow {
  const { from, to, dtmf, ...rest } = r;
  const ended = isoOr(r.endedAt, new Date().toISOString());
  const record: StoredRecord = {
    ...rest,
    from: maskNumber(from),
    to: maskNumber(to),
    dtmfCount: dtmf.length,
    verbs: r.verbs.map((v) => ({ ...v, result: maskForPage(v.result) })),
    ...(r.transfer
      ? {
          transfer: {
            ...r.transfer,
            ...(r.transfer.whisper !== undefined ? { whisper: maskForPage(r.transfer.whisper) } : {}),
          },
        }
      : {}),
  };
  return {
    call_sid: r.callSid.slice(0, 64),
    replica: replica.slice(0, 128),
    agent: r.agent.slice(0, 64),
    transport: r.transport ?? 'twilio',
    direction: r.direction?.slice(0, 32) ?? null,
    outcome: r.outcome,
    caller: maskNumber(from),
    caller_last4: last4(from),
    dialed: maskNumber(to),
    dialed_last4: last4(to),
    started_at: isoOr(r.startedAt, ended),
    ended_at: ended,
    duration_ms: Number.isFinite(r.durationMs) ? Math.max(0, Math.min(2_147_483_647, Math.round(r.durationMs))) : 0,
    record,
  };
}

export const CALL_ROW_COLUMNS = [
  'call_sid',
  'replica',
  'agent',
  'transport',
  'direction',
  'outcome',
  'caller',
  'caller_last4',
  'dialed',
  'dialed_last4',
  'started_at',
  'ended_at',
  'duration_ms',
  'record',
] as const satisfies readonly (keyof CallRow)[];

// PostgreSQL's text and jsonb hold no NUL character: one in a transcript must not fail its batch.
const NUL = /\u0000/g;
const noNul = (_k: string, v: unknown) => (typeof v === 'string' ? v.replace(NUL, '') : v);

/**
 * One INSERT of many rows. A CallSid already there is one call's second record: a retried batch
 * (the same record: nothing changes) or a call a draining replica moved to another, whose record
 * ends later. The later-ending record wins, whichever arrives first, and the call's start is its
 * first one.
 */
export function insertRows(rows: readonly CallRow[]): { text: string; values: unknown[] } {
  // one statement may not touch a row twice: one CallSid's records are merged here as the database would
  const latest = new Map<string, CallRow>();
  for (const row of rows) {
    const seen = latest.get(row.call_sid);
    if (!seen) latest.set(row.call_sid, row);
    else {
      const [first, last] = Date.parse(row.ended_at) > Date.parse(seen.ended_at) ? [seen, row] : [row, seen];
      const started = Math.min(Date.parse(first.started_at), Date.parse(last.started_at));
      latest.set(row.call_sid, {
        ...last,
        started_at: new Date(started).toISOString(),
        duration_ms: Math.min(2_147_483_647, Math.max(0, Date.parse(last.ended_at) - started)),
      });
    }
  }
  const values: unknown[] = [];
  const tuples = [...latest.values()].map((row) => {
    const cells = CALL_ROW_COLUMNS.map((c) => {
      const v = row[c];
      return `$${values.push(c === 'record' ? JSON.stringify(v, noNul) : typeof v === 'string' ? v.replace(NUL, '') : v)}`;
    });
    return `(${cells.join(', ')})`;
  });
  const replaced = CALL_ROW_COLUMNS.filter(
    (c) => c !== 'call_sid' && c !== 'started_at' && c !== 'ended_at' && c !== 'duration_ms',
  );
  const later = 'EXCLUDED.ended_at > c.ended_at';
  return {
    text: `INSERT INTO call_records AS c (${CALL_ROW_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
      ON CONFLICT (call_sid) DO UPDATE SET
        ${replaced.map((col) => `${col} = CASE WHEN ${later} THEN EXCLUDED.${col} ELSE c.${col} END`).join(',\n        ')},
        started_at = LEAST(c.started_at, EXCLUDED.started_at),
        ended_at = GREATEST(c.ended_at, EXCLUDED.ended_at),
        duration_ms = LEAST(2147483647, GREATEST(0, round(extract(epoch FROM
          GREATEST(c.ended_at, EXCLUDED.ended_at) - LEAST(c.started_at, EXCLUDED.started_at)) * 1000)))::int
      WHERE ${later} OR EXCLUDED.started_at < c.started_at`,
    values,
  };
}
