/**
 * What keeps one Media Streams socket from hurting the others: a message and byte
 * budget per socket, and rejection warnings that cannot flood the log.
 *
 * The budget is a token bucket whose per-message check is two subtractions and a compare on the
 * connection's own fields (no clock read, no allocation); one timer per bridge tops the buckets
 * up every REFILL_MS. A socket over its budget has its reads paused (TCP backpressure, so the
 * bytes wait in the kernel instead of costing the event loop) until the bucket refills; one kept
 * over its budget for `close_after_throttled_ms` is closed and counted.
 */
import type { BridgeSettings } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';

export const REFILL_MS = 100;
/** Longest value of an outside-supplied string that reaches a log line. */
export const MAX_LOGGED_CHARS = 200;
/** One warning per reason per this long per connection; the rest are counted. */
export const REJECTION_LOG_INTERVAL_MS = 1000;

export type MediaLimits = BridgeSettings['media_stream'];

/** A connection the refill timer looks after. */
export interface Budgeted {
  /** messages left in the bucket (may go below 0: the messages of the read already under way) */
  msgBudget: number;
  byteBudget: number;
  /** the refill timer's turn: top up, resume or close */
  refill(msgs: number, bytes: number, now: number): void;
}

/** The refill timer of one bridge: started with the first connection, stopped with the last. */
export class BudgetClock {
  private readonly live = new Set<Budgeted>();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(private readonly limits: MediaLimits) {}

  add(c: Budgeted): void {
    this.live.add(c);
    if (!this.timer) {
      this.last = Date.now();
      this.timer = setInterval(() => this.tick(), REFILL_MS);
      this.timer.unref();
    }
  }

  delete(c: Budgeted): void {
    this.live.delete(c);
    if (this.live.size === 0) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    // From the time that really passed: a late timer (a busy loop) refills for all of it.
    const elapsed = Math.min(now - this.last, 10_000);
    this.last = now;
    const msgs = Math.round((this.limits.max_messages_per_s * elapsed) / 1000);
    const bytes = Math.round((this.limits.max_bytes_per_s * elapsed) / 1000);
    for (const c of this.live) c.refill(msgs, bytes, now);
  }
}

/** Caps a string that came from outside before it reaches a log line. */
export function capped(v: unknown): unknown {
  if (typeof v === 'string')
    return v.length > MAX_LOGGED_CHARS ? `${v.slice(0, MAX_LOGGED_CHARS)}…(${v.length} chars)` : v;
  return v;
}

/**
 * Rejection warnings of one connection: the first of each reason in a second is logged, the
 * rest are counted and reported with the next line of that reason (or when the connection
 * ends). Every field is capped (MAX_LOGGED_CHARS). Metrics still count every rejection.
 */
export class RejectionLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();

  constructor(private readonly log: () => Logger) {}

  warn(kind: string, fields: Record<string, unknown>, msg: string, now = Date.now()): void {
    const e = this.seen.get(kind);
    if (e && now < e.until) {
      e.suppressed++;
      return;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = capped(v);
    if (e?.suppressed) out.suppressed = e.suppressed;
    this.log().warn(out, msg);
    if (e) {
      e.until = now + REJECTION_LOG_INTERVAL_MS;
      e.suppressed = 0;
    } else if (this.seen.size < 64) {
      this.seen.set(kind, { until: now + REJECTION_LOG_INTERVAL_MS, suppressed: 0 });
    }
  }

  /** One last line with what was suppressed since each reason's last line, if anything. */
  flush(fields: Record<string, unknown>): void {
    const counts: Record<string, number> = {};
    let any = false;
    for (const [k, e] of this.seen) {
      if (e.suppressed) {
        counts[k] = e.suppressed;
        any = true;
      }
    }
    this.seen.clear();
    if (any) this.log().warn({ ...fields, suppressed: counts }, 'twilio rejections suppressed on this connection');
  }
}
