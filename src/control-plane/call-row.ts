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

/** One INSERT of many rows; a CallSid already there is left as it is (a retried batch writes nothing twice). */
export function insertRows(rows: readonly CallRow[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = rows.map((row) => {
    const cells = CALL_ROW_COLUMNS.map((c) => {
      const v = row[c];
      return `$${values.push(c === 'record' ? JSON.stringify(v, noNul) : typeof v === 'string' ? v.replace(NUL, '') : v)}`;
    });
    return `(${cells.join(', ')})`;
  });
  return {
    text: `INSERT INTO call_records (${CALL_ROW_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (call_sid) DO NOTHING`,
    values,
  };
}
