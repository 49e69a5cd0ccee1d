/**
 * The fleet's call history on the real PostgreSQL: keyset pages against an in-memory reference
 * (fast-check: ties on the start time, filters, any page size), retention deleting in bounded
 * steps, and the writer's records arriving after its connections are killed under it
 * (pg_terminate_backend).
 */
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallRecordWriter } from '../../../src/control-plane/call-record-writer.js';
import { callKeyOf, getCall, listCalls, type CallFilter } from '../../../src/control-plane/call-history.js';
import { deleteExpiredCalls, RetentionJob } from '../../../src/control-plane/call-retention.js';
import { callRowOf, insertRows, type CallRow } from '../../../src/control-plane/call-row.js';
import { migrate } from '../../../src/control-plane/migrate.js';
import { openBackgroundPool } from '../../../src/control-plane/pool.js';
import { decodeCursor } from '../../../src/control-plane/pagination.js';
import { createLogger } from '../../../src/observability/logger.js';
import { fakeRecord } from '../../helpers/call-records.js';
import { LogCapture, waitFor } from '../../helpers/harness.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

const logger = createLogger({ level: 'silent', destination: new LogCapture() });
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  await migrate(pool, { logger });
}, 30_000);

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const BASE = Date.parse('2026-03-01T10:00:00.000Z');
const AGENTS = ['support', 'sales', 'billing'] as const;
const OUTCOMES = ['caller_hangup', 'transferred'] as const;

async function reset(rows: CallRow[]): Promise<void> {
  await pool.query('TRUNCATE call_records');
  for (let i = 0; i < rows.length; i += 100) await pool.query(insertRows(rows.slice(i, i + 100)));
}

/** Every page of a filter, following next_cursor to its end. */
async function allPages(f: Omit<CallFilter, 'after'>): Promise<{ sids: string[]; pages: number }> {
  const sids: string[] = [];
  let after: CallFilter['after'];
  let pages = 0;
  for (;;) {
    const p = await listCalls(pool, { ...f, ...(after ? { after } : {}) });
    pages++;
    expect(p.items.length).toBeLessThanOrEqual(f.limit);
    sids.push(...p.items.map((x) => x.call_sid));
    if (!p.next_cursor) return { sids, pages };
    after = callKeyOf(decodeCursor(p.next_cursor));
    expect(after).toBeDefined();
    if (pages > 500) throw new Error('pages never end');
  }
}

describe('keyset pages of the call history', () => {
  it('walk every matching call once, newest first with the CallSid breaking ties, for any page size and filter', async () => {
    const recordArb = fc.record({
      sid: fc.stringMatching(/^CA[0-9a-f]{6}$/),
      // few distinct start times: many ties, which a cursor on the time alone would lose or repeat
      minute: fc.integer({ min: 0, max: 5 }),
      agent: fc.constantFrom(...AGENTS),
      outcome: fc.constantFrom(...OUTCOMES),
      transport: fc.constantFrom('twilio' as const, 'sip' as const),
      from: fc.constantFrom('+15557654321', '+15551110000', '+447700900123'),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(recordArb, { selector: (r) => r.sid, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.record(
          {
            agent: fc.constantFrom(...AGENTS),
            outcome: fc.constantFrom(...OUTCOMES),
            transport: fc.constantFrom('twilio', 'sip'),
            numberLast4: fc.constantFrom('4321', '0000', '1111'),
            since: fc.integer({ min: 0, max: 5 }),
            until: fc.integer({ min: 1, max: 6 }),
          },
          { requiredKeys: [] },
        ),
        async (recs, limit, filter) => {
          const rows = recs.map((r) =>
            callRowOf(
              fakeRecord({
                callSid: r.sid,
                startedAt: new Date(BASE + r.minute * 60_000).toISOString(),
                agent: r.agent,
                outcome: r.outcome,
                transport: r.transport,
                from: r.from,
              }),
              'r',
            ),
          );
          await reset(rows);
          const f: Omit<CallFilter, 'after'> = {
            limit,
            ...(filter.agent ? { agent: filter.agent } : {}),
            ...(filter.outcome ? { outcome: filter.outcome } : {}),
            ...(filter.transport ? { transport: filter.transport } : {}),
            ...(filter.numberLast4 ? { numberLast4: filter.numberLast4 } : {}),
            ...(filter.since !== undefined ? { since: BASE + filter.since * 60_000 } : {}),
            ...(filter.until !== undefined ? { until: BASE + filter.until * 60_000 } : {}),
          };
          const expected = rows
            .filter(
              (r) =>
                (!f.agent || r.agent === f.agent) &&
                (!f.outcome || r.outcome === f.outcome) &&
                (!f.transport || r.transport === f.transport) &&
                (!f.numberLast4 || r.caller_last4 === f.numberLast4 || r.dialed_last4 === f.numberLast4) &&
                (f.since === undefined || Date.parse(r.started_at) >= f.since) &&
                (f.until === undefined || Date.parse(r.started_at) < f.until),
            )
            .sort((a, b) =>
              a.started_at !== b.started_at
                ? Date.parse(b.started_at) - Date.parse(a.started_at)
                : a.call_sid < b.call_sid
                  ? 1
                  : -1,
            )
            .map((r) => r.call_sid);
          const got = await allPages(f);
          expect(got.sids).toEqual(expected);
          expect(got.pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
        },
      ),
      { numRuns: 40, seed: 30_2026 },
    );
  }, 120_000);

  it('a page taken while calls keep arriving neither repeats nor skips a call that was there before', async () => {
    const old = Array.from({ length: 9 }, (_, i) =>
      callRowOf(fakeRecord({ startedAt: new Date(BASE + i * 1000).toISOString() }), 'r'),
    );
    await reset(old);
    const first = await listCalls(pool, { limit: 4 });
    // newer calls land between the pages
    await pool.query(insertRows([callRowOf(fakeRecord({ startedAt: new Date(BASE + 60_000).toISOString() }), 'r')]));
    const rest = await allPages({ limit: 4 });
    const after = callKeyOf(decodeCursor(first.next_cursor!))!;
    const second = await listCalls(pool, { limit: 100, after });
    const seen = [...first.items, ...second.items].map((x) => x.call_sid);
    expect(new Set(seen).size).toBe(9);
    expect(seen.sort()).toEqual(old.map((r) => r.call_sid).sort());
    expect(rest.sids).toHaveLength(10);
  });

  it("one call's record reads back whole, masked as it was written", async () => {
    const row = callRowOf(
      fakeRecord({ transcript: [{ role: 'user', text: 'my order', atMs: 10 }], dtmf: '1234' }),
      'replica-x',
    );
    await reset([row]);
    const got = await getCall(pool, row.call_sid);
    expect(got).toMatchObject({ call_sid: row.call_sid, replica: 'replica-x', caller: '•••4321' });
    expect(got!.record.transcript).toEqual([{ role: 'user', text: 'my order', atMs: 10 }]);
    expect(got!.record).not.toHaveProperty('dtmf');
    expect(await getCall(pool, 'CA-nope')).toBeUndefined();
  });
});

describe('retention', () => {
  it('deletes the calls older than retention_days in bounded steps, and keeps the newer ones', async () => {
    const now = BASE + 100 * 86_400_000;
    const expired = Array.from({ length: 7 }, (_, i) =>
      callRowOf(fakeRecord({ startedAt: new Date(BASE + i * 1000).toISOString() }), 'r'),
    );
    const kept = Array.from({ length: 3 }, (_, i) =>
      callRowOf(fakeRecord({ startedAt: new Date(now - 86_400_000 + i).toISOString() }), 'r'),
    );
    await reset([...expired, ...kept]);
    const deleted: number[] = [];
    const run = () =>
      deleteExpiredCalls({
        db: pool,
        logger,
        retentionDays: 30,
        batch: 2,
        maxBatches: 2,
        now: () => now,
        deleted: (n) => deleted.push(n),
      });
    // one run deletes at most batch × maxBatches rows: the rest waits for the next run
    expect(await run()).toBe(4);
    expect(await run()).toBe(3);
    expect(await run()).toBe(0);
    expect(deleted).toEqual([4, 3]);
    const left = (await pool.query<{ call_sid: string }>('SELECT call_sid FROM call_records')).rows.map(
      (r) => r.call_sid,
    );
    expect(left.sort()).toEqual(kept.map((r) => r.call_sid).sort());
  });

  it('runs on its own, periodically: a call that expires after start is deleted by a later run', async () => {
    const now = { t: BASE + 10 * 86_400_000 };
    const soon = callRowOf(fakeRecord({ startedAt: new Date(BASE).toISOString() }), 'r');
    const fresh = callRowOf(fakeRecord({ startedAt: new Date(now.t).toISOString() }), 'r');
    await reset([soon, fresh]);
    const deleted: number[] = [];
    const job = new RetentionJob({
      db: pool,
      logger,
      retentionDays: 30,
      everyMs: 20,
      now: () => now.t,
      deleted: (n) => deleted.push(n),
    });
    try {
      const count = async () => (await pool.query('SELECT 1 FROM call_records')).rowCount;
      // runs happen and keep both (neither is 30 days old yet)
      await new Promise((r) => setTimeout(r, 200));
      expect(await count()).toBe(2);
      // time passes: the old call expires, and the next run deletes it, not the fresh one
      now.t = BASE + 31 * 86_400_000;
      await waitFor(() => deleted.length > 0, 10_000);
      expect(deleted).toEqual([1]);
      expect((await getCall(pool, fresh.call_sid))?.call_sid).toBe(fresh.call_sid);
    } finally {
      job.stop();
    }
  });

  it('two replicas running it at once delete each expired call once, neither waiting on the other', async () => {
    const now = BASE + 100 * 86_400_000;
    const expired = Array.from({ length: 50 }, (_, i) =>
      callRowOf(fakeRecord({ startedAt: new Date(BASE + i).toISOString() }), 'r'),
    );
    await reset(expired);
    const o = { db: pool, logger, retentionDays: 30, batch: 5, maxBatches: 20, now: () => now };
    const [a, b] = await Promise.all([deleteExpiredCalls(o), deleteExpiredCalls(o)]);
    expect(a + b).toBe(50);
    expect((await pool.query('SELECT 1 FROM call_records')).rowCount).toBe(0);
  });
});

describe('the writer on the real database', () => {
  it("loses no record when the database kills the writer's connections (pg_terminate_backend)", async () => {
    await reset([]);
    const bg = openBackgroundPool(db.url, logger);
    const writer = new CallRecordWriter({ db: bg, logger, gatherMs: 1, minRetryMs: 20, maxRetryMs: 100 });
    try {
      const rows = Array.from({ length: 30 }, () => callRowOf(fakeRecord(), 'r'));
      for (const r of rows.slice(0, 10)) writer.add(r);
      await waitFor(() => writer.pending === 0, 10_000);
      // the server ends every connection of the writer's pool (what a failover or a restart does)
      const killed = await pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'omni-phone-bridge history'`,
        [db.name],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
      for (const r of rows.slice(10)) writer.add(r);
      await waitFor(() => writer.pending === 0, 10_000);
      const stored = (await pool.query<{ call_sid: string }>('SELECT call_sid FROM call_records')).rows;
      expect(stored.map((r) => r.call_sid).sort()).toEqual(rows.map((r) => r.call_sid).sort());
    } finally {
      await writer.close(1000);
      await bg.end();
    }
  }, 30_000);

  it("a call moved to another replica is one row: the later-ending record's, from the call's first start", async () => {
    const sid = `CA${'ab'.repeat(16)}`;
    const moved = callRowOf(
      fakeRecord({
        callSid: sid,
        outcome: 'moved',
        startedAt: new Date(BASE).toISOString(),
        endedAt: new Date(BASE + 10_000).toISOString(),
      }),
      'replica-a',
    );
    const finished = callRowOf(
      fakeRecord({
        callSid: sid,
        outcome: 'caller_hangup',
        startedAt: new Date(BASE + 11_000).toISOString(),
        endedAt: new Date(BASE + 60_000).toISOString(),
      }),
      'replica-b',
    );
    const expected = {
      call_sid: sid,
      replica: 'replica-b',
      outcome: 'caller_hangup',
      started_at: new Date(BASE).toISOString(),
      duration_ms: 60_000,
    };
    // whichever arrives first, in one batch or two, and retried batches (the same record again)
    for (const batches of [
      [[moved], [finished]],
      [[finished], [moved]],
      [[moved, finished]],
      [[finished, moved]],
      [[moved], [finished], [finished], [moved]],
    ]) {
      await reset([]);
      for (const batch of batches) await pool.query(insertRows(batch));
      expect(await getCall(pool, sid)).toMatchObject(expected);
    }
  });

  it('a record PostgreSQL would refuse (NUL in its transcript) is stored with the NUL taken out', async () => {
    await reset([]);
    const row = callRowOf(fakeRecord({ transcript: [{ role: 'user', text: 'a\u0000b', atMs: 1 }] }), 'r');
    await pool.query(insertRows([row]));
    expect((await getCall(pool, row.call_sid))!.record.transcript![0]!.text).toBe('ab');
  });
});
