import type { Logger } from '../observability/logger.js';
import { QuietLog } from '../server/security/source-backoff.js';
import { insertRows, type CallRow } from './call-row.js';

/**
 * Finished calls' records on their way to PostgreSQL, off the call's path: `add` only appends to
 * a bounded buffer and returns; a writer loop sends batches (one INSERT each) a moment later.
 * A database that is slow or gone never holds a call: its batch stays in the buffer and is tried
 * again with a growing pause (up to `maxRetryMs`), so the records arrive when it returns. Past
 * `maxBuffered` rows a new record is dropped, counted, and said in a rate-limited log line. A
 * batch the database refuses for its content (not its connection) is written row by row so that
 * one bad row is dropped, not the batch, nor everything behind it. Rows are idempotent on the
 * CallSid, so a batch retried after an answer lost in transit writes nothing twice (call-row.ts).
 */

export type DropReason = 'buffer_full' | 'rejected' | 'shutdown';

export interface WriterCounters {
  written(n: number): void;
  dropped(reason: DropReason, n: number): void;
  failed(): void;
  buffered(n: number): void;
}

/** What the writer needs of a pool (a test gives its own). */
export interface BatchDb {
  query(q: { text: string; values: unknown[] }): Promise<unknown>;
}

export interface WriterOptions {
  db: BatchDb;
  logger: Logger;
  counters?: WriterCounters;
  maxBuffered?: number;
  batchSize?: number;
  /** how long `add` waits for more records before a batch goes */
  gatherMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
}

const NO_COUNTERS: WriterCounters = { written: () => {}, dropped: () => {}, failed: () => {}, buffered: () => {} };

/** A refusal of the rows themselves (cardinality, data, constraint, syntax): retrying the same batch cannot help. */
function isContentError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(21|22|23|42)/.test(code);
}

/** Waits for `p` at most `ms` (what it settles to is the writer's own business). */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]);
  clearTimeout(timer);
}

export class CallRecordWriter {
  private readonly buffer: CallRow[] = [];
  private readonly opts: Required<Omit<WriterOptions, 'counters'>> & { counters: WriterCounters };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private retryMs = 0;
  private closed = false;
  private readonly dropLog: QuietLog;
  private readonly failLog: QuietLog;

  constructor(opts: WriterOptions) {
    this.opts = {
      maxBuffered: 10_000,
      batchSize: 200,
      gatherMs: 200,
      minRetryMs: 250,
      maxRetryMs: 5000,
      counters: NO_COUNTERS,
      ...opts,
    };
    this.dropLog = new QuietLog((f) =>
      opts.logger.warn(
        f,
        'call history: records dropped (the database is behind; see bridge_call_records_dropped_total)',
      ),
    );
    this.failLog = new QuietLog((f) =>
      opts.logger.warn(f, 'call history: a batch of records was not written; it stays buffered and is retried'),
    );
  }

  /** Rows waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Never throws, never waits: the record is buffered, or dropped and counted. */
  add(row: CallRow): void {
    if (this.closed || this.buffer.length >= this.opts.maxBuffered) {
      const reason: DropReason = this.closed ? 'shutdown' : 'buffer_full';
      this.opts.counters.dropped(reason, 1);
      this.dropLog.note({ reason, buffered: this.buffer.length });
      return;
    }
    this.buffer.push(row);
    this.opts.counters.buffered(this.buffer.length);
    this.schedule(this.retryMs || this.opts.gatherMs);
  }

  private schedule(ms: number): void {
    if (this.timer || this.running || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.start();
    }, ms);
    this.timer.unref();
  }

  /** Starts a drain unless one runs (one at a time: two would write and then remove the same batch twice). */
  private start(): Promise<void> {
    this.running ??= this.drain()
      // nothing in a drain should throw; if something did, the records stay and the next try comes
      .catch((err: unknown) => {
        this.retryMs = this.opts.maxRetryMs;
        this.failLog.note({ code: (err as Error).name });
      })
      .finally(() => {
        this.running = undefined;
        if (this.buffer.length) this.schedule(this.retryMs || 0);
      });
    return this.running;
  }

  /** Writes batches until the buffer is empty or one fails (then the pause before the next try grows). */
  private async drain(): Promise<void> {
    while (this.buffer.length) {
      const batch = this.buffer.slice(0, this.opts.batchSize);
      try {
        await this.write(batch);
        this.retryMs = 0;
      } catch (err) {
        this.opts.counters.failed();
        this.retryMs = Math.min(this.opts.maxRetryMs, Math.max(this.opts.minRetryMs, this.retryMs * 2));
        this.failLog.note({ code: (err as { code?: string }).code ?? 'error', buffered: this.buffer.length });
        return;
      }
      this.buffer.splice(0, batch.length);
      this.opts.counters.buffered(this.buffer.length);
    }
  }

  private async write(batch: CallRow[]): Promise<void> {
    try {
      // counted when acknowledged: a batch whose answer was lost is counted by its retry, once
      await this.opts.db.query(insertRows(batch));
      this.opts.counters.written(batch.length);
      return;
    } catch (err) {
      if (!isContentError(err)) throw err;
    }
    // one row the database refuses: write the others, drop it (counted), go on
    for (const row of batch) {
      try {
        await this.opts.db.query(insertRows([row]));
        this.opts.counters.written(1);
      } catch (err) {
        if (!isContentError(err)) throw err;
        this.opts.counters.dropped('rejected', 1);
        this.dropLog.note({ reason: 'rejected', code: (err as { code?: string }).code });
      }
    }
  }

  /** Resolves when the buffer is empty, or after `timeoutMs`; true when it is empty. */
  async flush(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.buffer.length && Date.now() < until) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      await within(this.start(), until - Date.now());
      if (this.buffer.length)
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(this.retryMs || 50, until - Date.now()))));
    }
    return this.buffer.length === 0;
  }

  /** A last bounded try, then what is left is counted as dropped and said. */
  async close(timeoutMs = 2000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    // a query the database never answers is cut by the pool's query_timeout; this bounds the wait anyway
    if (this.running) await within(this.running, 1000);
    const left = this.buffer.splice(0);
    if (left.length) {
      this.opts.counters.dropped('shutdown', left.length);
      this.opts.logger.warn({ records: left.length }, 'call history: records not written before shutdown (dropped)');
    }
    this.opts.counters.buffered(0);
  }
}
