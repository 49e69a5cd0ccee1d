import type { Logger } from '../observability/logger.js';
import type { Queryable } from './pool.js';

/**
 * The history's retention (`bridge.history.retention_days`): calls that started longer ago are
 * deleted by every replica's periodic job, in bounded steps — at most `batch` rows per DELETE and
 * `maxBatches` DELETEs per run — so a first run over a long-kept table never holds a lock or the
 * pool for long; what is left goes at the next run. Replicas running it at once skip each other's
 * rows (SKIP LOCKED) instead of waiting on them.
 */

export interface RetentionOptions {
  db: Queryable;
  logger: Logger;
  retentionDays: number;
  batch?: number;
  maxBatches?: number;
  everyMs?: number;
  /** counts the rows deleted (metrics) */
  deleted?: (n: number) => void;
  now?: () => number;
}

/** One run: returns the rows deleted. */
export async function deleteExpiredCalls(o: RetentionOptions): Promise<number> {
  const batch = o.batch ?? 1000;
  const maxBatches = o.maxBatches ?? 10;
  const cutoff = new Date((o.now ?? Date.now)() - o.retentionDays * 86_400_000).toISOString();
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const r = await o.db.query(
      `DELETE FROM call_records WHERE call_sid IN (
         SELECT call_sid FROM call_records WHERE started_at < $1 ORDER BY started_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [cutoff, batch],
    );
    const n = r.rowCount ?? 0;
    total += n;
    if (n < batch) break;
  }
  if (total) o.deleted?.(total);
  return total;
}

/** The periodic job (the first run soon after start); stop() ends it. */
export class RetentionJob {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private readonly first: NodeJS.Timeout;

  constructor(private readonly o: RetentionOptions) {
    const every = o.everyMs ?? 3_600_000;
    this.first = setTimeout(() => void this.run(), Math.min(every, 30_000));
    this.first.unref();
    this.timer = setInterval(() => void this.run(), every);
    this.timer.unref();
  }

  async run(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const n = await deleteExpiredCalls(this.o);
      if (n)
        this.o.logger.info({ deleted: n, retentionDays: this.o.retentionDays }, 'call history: expired calls deleted');
      return n;
    } catch (err) {
      this.o.logger.warn(
        { code: (err as { code?: string }).code ?? 'error' },
        'call history: the retention run failed; the next one tries again',
      );
      return 0;
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearTimeout(this.first);
    clearInterval(this.timer);
  }
}
