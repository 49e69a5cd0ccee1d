/**
 * Why the SIP edge threw something away without answering. Each reason is a label of one counter
 * (`bridge_sip_dropped_total{reason}` once wired); a silent drop is never invisible.
 */
export type SipDropReason =
  | 'too_large'
  | 'malformed'
  | 'scanner'
  | 'no_trunk'
  | 'buffer_overflow'
  | 'idle_timeout'
  | 'too_many_connections'
  | 'send_failed'
  | 'rate_limited';

export type DropSink = (reason: SipDropReason) => void;

/** An in-process tally, for tests and for wiring into a metric later. */
export class DropCounts {
  private readonly counts = new Map<SipDropReason, number>();

  readonly sink: DropSink = (reason) => {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  };

  get(reason: SipDropReason): number {
    return this.counts.get(reason) ?? 0;
  }

  snapshot(): Partial<Record<SipDropReason, number>> {
    return Object.fromEntries(this.counts);
  }
}
