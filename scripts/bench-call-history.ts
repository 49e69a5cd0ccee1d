/**
 * The fleet's call history, measured (`npm run bench:history`, PostgreSQL on
 * TEST_DATABASE_ADMIN_URL or 127.0.0.1:5432): what a finished call pays on its path (masking and
 * buffering its record), how fast one replica's writer empties its buffer into the table, and what
 * a page of GET /v1/calls costs at 100,000 rows, first page and deep (keyset), with and without a
 * filter. Prints one JSON object. Creates and drops its own database.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { CallRecordWriter } from '../src/control-plane/call-record-writer.js';
import { callKeyOf, listCalls } from '../src/control-plane/call-history.js';
import { callRowOf, insertRows } from '../src/control-plane/call-row.js';
import { migrate } from '../src/control-plane/migrate.js';
import { openBackgroundPool } from '../src/control-plane/pool.js';
import { decodeCursor } from '../src/control-plane/pagination.js';
import { createLogger } from '../src/observability/logger.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { fakeRecord } from '../test/helpers/call-records.js';

const logger = createLogger({ level: 'silent' });
const db = await createTestDatabase();
const pool = new pg.Pool({ connectionString: db.url, max: 4 });
const out: Record<string, unknown> = {};
try {
  await migrate(pool, { logger });
  const transcript = Array.from({ length: 20 }, (_, i) => ({
    role: i % 2 ? 'agent' : 'user',
    text: 'word '.repeat(20),
    atMs: i * 1000,
  }));

  // 1. on the call's path: mask + buffer (a database that never answers, so nothing is written meanwhile)
  const hang = new CallRecordWriter({ db: { query: () => new Promise(() => {}) }, logger, maxBuffered: 1_000_000 });
  const recs = Array.from({ length: 20_000 }, () => fakeRecord({ transcript }));
  const t0 = performance.now();
  for (const r of recs) hang.add(callRowOf(r, 'bench'));
  out.addPerRecordUs = Number((((performance.now() - t0) * 1000) / recs.length).toFixed(2));

  // 2. one replica's writer emptying 20,000 buffered records into the table
  const bg = openBackgroundPool(db.url, logger);
  const writer = new CallRecordWriter({ db: bg, logger, maxBuffered: 1_000_000 });
  const t1 = performance.now();
  for (const r of recs) writer.add(callRowOf(r, 'bench'));
  await writer.flush(120_000);
  out.writeRecordsPerS = Math.round(recs.length / ((performance.now() - t1) / 1000));
  await writer.close();
  await bg.end();

  // 3. pages at 100,000 rows (lean records: the list reads no record)
  await pool.query('TRUNCATE call_records');
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < 100_000; i += 1000) {
    const rows = Array.from({ length: 1000 }, (_, j) =>
      callRowOf(
        fakeRecord({
          startedAt: new Date(base + (i + j) * 7000).toISOString(),
          agent: ['support', 'sales', 'billing'][(i + j) % 3]!,
          from: `+1555${String((i + j) % 10_000).padStart(7, '0')}`,
        }),
        'bench',
      ),
    );
    await pool.query(insertRows(rows));
  }
  await pool.query('ANALYZE call_records');
  const time = async (f: () => Promise<unknown>, n = 50) => {
    await f();
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    return Number(((performance.now() - t) / n).toFixed(2));
  };
  let deep = await listCalls(pool, { limit: 100 });
  for (let p = 0; p < 500; p++)
    deep = await listCalls(pool, { limit: 100, after: callKeyOf(decodeCursor(deep.next_cursor!))! });
  const deepKey = callKeyOf(decodeCursor(deep.next_cursor!))!;
  out.pageMs = {
    first: await time(() => listCalls(pool, { limit: 100 })),
    afterRow50000: await time(() => listCalls(pool, { limit: 100, after: deepKey })),
    agentFilterAfterRow50000: await time(() => listCalls(pool, { limit: 100, agent: 'sales', after: deepKey })),
    numberFilter: await time(() => listCalls(pool, { limit: 100, numberLast4: '4321' })),
    dayRange: await time(() =>
      listCalls(pool, { limit: 100, since: base + 86_400_000 * 3, until: base + 86_400_000 * 4 }),
    ),
  };
} finally {
  await pool.end();
  await db.drop();
}
console.log(JSON.stringify(out));
