/**
 * The call history's writer against a database that fails the way real ones do (connection lost,
 * no answer, one row refused): a record is never thrown back at the call, the buffer keeps what
 * it can and retries it, and only what overflows it is dropped — counted, and logged rate-limited.
 */
import { describe, expect, it } from 'vitest';
import { CallRecordWriter, type DropReason } from '../../../src/control-plane/call-record-writer.js';
import { callRowOf, insertRows, type CallRow } from '../../../src/control-plane/call-row.js';
import { createLogger } from '../../../src/observability/logger.js';
import { fakeRecord } from '../../helpers/call-records.js';
import { LogCapture, waitFor } from '../../helpers/harness.js';

/** A database whose next answers the test decides: 'ok', a connection error, or a refused row. */
class FakeDb {
  mode: 'ok' | 'down' | 'hang' = 'ok';
  /** CallSids whose row the database refuses for its content (SQLSTATE 22P05) */
  poison = new Set<string>();
  readonly stored = new Map<string, unknown[]>();
  queries = 0;
  /** the next N writes commit, but their answer is lost on the way back */
  loseAnswers = 0;

  /** ms each answer takes */
  delayMs = 0;
  inFlight = 0;
  maxInFlight = 0;

  async query(q: { text: string; values: unknown[] }): Promise<{ rowCount: number }> {
    this.queries++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return await this.answer(q);
    } finally {
      this.inFlight--;
    }
  }

  private async answer(q: { text: string; values: unknown[] }): Promise<{ rowCount: number }> {
    if (this.mode === 'down') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    if (this.mode === 'hang') return new Promise(() => {});
    const cols = 14;
    const rows: unknown[][] = [];
    for (let i = 0; i < q.values.length; i += cols) rows.push(q.values.slice(i, i + cols));
    if (rows.some((r) => this.poison.has(r[0] as string)))
      throw Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    let inserted = 0;
    for (const r of rows)
      if (!this.stored.has(r[0] as string)) {
        this.stored.set(r[0] as string, r);
        inserted++;
      }
    if (this.loseAnswers > 0) {
      this.loseAnswers--;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    }
    return { rowCount: inserted };
  }
}

function setup(o: { maxBuffered?: number; batchSize?: number } = {}) {
  const db = new FakeDb();
  const logs = new LogCapture();
  const counts = { written: 0, failed: 0, buffered: 0, dropped: {} as Partial<Record<DropReason, number>> };
  const writer = new CallRecordWriter({
    db,
    logger: createLogger({ level: 'debug', destination: logs }),
    gatherMs: 1,
    minRetryMs: 5,
    maxRetryMs: 20,
    ...o,
    counters: {
      written: (n) => (counts.written += n),
      dropped: (r, n) => (counts.dropped[r] = (counts.dropped[r] ?? 0) + n),
      failed: () => counts.failed++,
      buffered: (n) => (counts.buffered = n),
    },
  });
  return { db, logs, counts, writer };
}

const row = (): CallRow => callRowOf(fakeRecord(), 'replica-a');

describe('the call history writer', () => {
  it('writes records in batches, each one once', async () => {
    const { db, counts, writer } = setup({ batchSize: 3 });
    for (let i = 0; i < 7; i++) writer.add(row());
    await waitFor(() => db.stored.size === 7, 5000);
    expect(counts.written).toBe(7);
    expect(db.queries).toBeLessThanOrEqual(3 + 1);
    expect(writer.pending).toBe(0);
  });

  it('keeps records while the database is down and writes them all when it returns', async () => {
    const { db, counts, writer } = setup();
    db.mode = 'down';
    const rows = Array.from({ length: 20 }, row);
    for (const r of rows) writer.add(r);
    await waitFor(() => counts.failed >= 3, 5000);
    expect(db.stored.size).toBe(0);
    expect(writer.pending).toBe(20);
    db.mode = 'ok';
    await waitFor(() => db.stored.size === 20, 5000);
    expect([...db.stored.keys()].sort()).toEqual(rows.map((r) => r.call_sid).sort());
    expect(counts.dropped).toEqual({});
  });

  it('a batch committed whose answer was lost is retried, and its rows are neither stored nor counted twice', async () => {
    const { db, counts, writer } = setup();
    db.loseAnswers = 1;
    const rows = Array.from({ length: 5 }, row);
    for (const r of rows) writer.add(r);
    await waitFor(() => writer.pending === 0, 5000);
    expect(counts.failed).toBe(1);
    expect(db.stored.size).toBe(5);
    expect(counts.written).toBe(5);
  });

  it('writes one batch at a time, even when a flush comes while a write is due: no row is lost or removed twice', async () => {
    const { db, writer } = setup({ batchSize: 2 });
    db.delayMs = 15;
    const rows = Array.from({ length: 9 }, row);
    for (const r of rows.slice(0, 5)) writer.add(r);
    const flushed = writer.flush(5000);
    for (const r of rows.slice(5)) writer.add(r);
    expect(await flushed).toBe(true);
    await waitFor(() => writer.pending === 0, 5000);
    expect(db.maxInFlight).toBe(1);
    expect([...db.stored.keys()].sort()).toEqual(rows.map((r) => r.call_sid).sort());
  });

  it('never waits for a database that does not answer: add returns at once, the rest is buffered', async () => {
    const { db, writer } = setup({ maxBuffered: 50 });
    db.mode = 'hang';
    writer.add(row());
    await waitFor(() => db.queries === 1, 5000);
    // the batch in flight hangs; more calls end meanwhile and are buffered behind it
    for (let i = 0; i < 10; i++) writer.add(row());
    expect(writer.pending).toBe(11);
  });

  it('past its bound, drops new records, counts them, and logs it rate-limited (not once per record)', async () => {
    const { db, counts, logs, writer } = setup({ maxBuffered: 10 });
    db.mode = 'down';
    for (let i = 0; i < 500; i++) writer.add(row());
    expect(writer.pending).toBe(10);
    expect(counts.dropped).toEqual({ buffer_full: 490 });
    expect(logs.find(/records dropped/).length).toBe(1);
    db.mode = 'ok';
    await waitFor(() => db.stored.size === 10, 5000);
  });

  it('a row the database refuses for its content is dropped alone; the rows around it are written', async () => {
    const { db, counts, writer } = setup({ batchSize: 50 });
    const rows = Array.from({ length: 5 }, row);
    db.poison.add(rows[2]!.call_sid);
    for (const r of rows) writer.add(r);
    await waitFor(() => db.stored.size === 4, 5000);
    expect(db.stored.has(rows[2]!.call_sid)).toBe(false);
    expect(counts.dropped).toEqual({ rejected: 1 });
    expect(writer.pending).toBe(0);
    // and the writer goes on
    writer.add(row());
    await waitFor(() => db.stored.size === 5, 5000);
  });

  it('at shutdown, a last bounded try; what the database did not take is counted as dropped', async () => {
    const { db, counts, logs, writer } = setup();
    db.mode = 'down';
    for (let i = 0; i < 3; i++) writer.add(row());
    await writer.close(100);
    expect(counts.dropped).toEqual({ shutdown: 3 });
    expect(logs.find(/before shutdown/)).toHaveLength(1);
    writer.add(row());
    expect(counts.dropped).toEqual({ shutdown: 4 });
  });
});

describe('a record as the history keeps it', () => {
  it('holds no whole number and no DTMF digit, wherever they were in the record', () => {
    const r = callRowOf(
      fakeRecord({
        from: '+15557654321',
        to: '+15550001111',
        dtmf: '4929123456',
        verbs: [{ verb: 'transfer_to_human', result: 'dialed +15550100200', atMs: 5 }],
        transfer: { mode: 'warm', target: 'desk', result: 'accepted', startedAtMs: 1, whisper: 'call +15557654321' },
      }),
      'r1',
    );
    const text = JSON.stringify(r);
    for (const secret of ['5557654321', '5550001111', '4929123456', '5550100200']) expect(text).not.toContain(secret);
    expect(r).toMatchObject({ caller: '•••4321', caller_last4: '4321', dialed: '•••1111', dialed_last4: '1111' });
    expect(r.record.dtmfCount).toBe(10);
  });

  it('a hostile record (NUL characters, a bad time, a NaN duration) still makes a row PostgreSQL takes', () => {
    const r = callRowOf(
      fakeRecord({
        startedAt: 'not a time',
        endedAt: new Date().toISOString(),
        durationMs: Number.NaN,
        agent: 'a\u0000b',
        transcript: [{ role: 'user', text: 'hi\u0000there', atMs: 1 }],
      }),
      'r1',
    );
    expect(Number.isFinite(Date.parse(r.started_at))).toBe(true);
    expect(r.duration_ms).toBe(0);
    const q = insertRows([r]);
    expect(JSON.stringify(q.values)).not.toContain('\\u0000');
    expect(q.values).toContain('ab');
  });
});
