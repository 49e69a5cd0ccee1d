import type { CallRecord } from '../call/record.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { CallRecordWriter } from './call-record-writer.js';
import { RetentionJob } from './call-retention.js';
import { callRowOf } from './call-row.js';
import type { ControlPlane } from './control-plane.js';

/**
 * One replica's part of the fleet's call history (DATABASE_URL): each finished call's record,
 * masked (call-row.ts), goes to the writer's bounded buffer; the retention job deletes what is
 * older than `bridge.history.retention_days`. Both run on the control plane's background pool.
 */
export interface CallHistorySink {
  add(r: CallRecord): void;
  readonly writer: CallRecordWriter;
  readonly retention: RetentionJob;
  close(): Promise<void>;
}

export interface SinkOptions {
  replica: string;
  retentionDays: number;
  bufferRecords: number;
  logger: Logger;
  metrics: Metrics;
}

export function openCallHistorySink(cp: ControlPlane, o: SinkOptions): CallHistorySink {
  const m = o.metrics;
  const writer = new CallRecordWriter({
    db: cp.backgroundPool,
    logger: o.logger,
    maxBuffered: o.bufferRecords,
    counters: {
      written: (n) => m.callRecordsWritten.inc(n),
      dropped: (reason, n) => m.callRecordsDropped.inc({ reason }, n),
      failed: () => m.callRecordWriteFailures.inc(),
      buffered: (n) => m.callRecordsBuffered.set(n),
    },
  });
  const retention = new RetentionJob({
    db: cp.backgroundPool,
    logger: o.logger,
    retentionDays: o.retentionDays,
    deleted: (n) => m.callRecordsExpired.inc(n),
  });
  return {
    writer,
    retention,
    add(r) {
      try {
        writer.add(callRowOf(r, o.replica));
      } catch (err) {
        // a record that cannot even be masked is dropped, never thrown into the call's end
        m.callRecordsDropped.inc({ reason: 'rejected' });
        o.logger.warn({ err: (err as Error).name }, 'call history: a record could not be prepared (dropped)');
      }
    },
    async close() {
      retention.stop();
      await writer.close();
    },
  };
}
