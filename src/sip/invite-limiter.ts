/**
 * New INVITEs per source address, as a token bucket: `burst` at once, then `perSecond`. Over the
 * limit the INVITE is dropped unanswered (counted by the caller): an answer would create a
 * transaction retransmitted for 32 s, which a spoofed flood would turn into reflected traffic and
 * memory; a real peer retransmits its INVITE after T1 (500 ms) and gets in once the bucket refills.
 * The table is bounded: a flood from many addresses evicts the longest-unused entries.
 */
export interface InviteLimit {
  per_second: number;
  burst: number;
}

/** A carrier's busy hour fits (a trunk's INVITEs come from a few addresses); a flood does not. */
export const DEFAULT_INVITE_LIMIT: InviteLimit = { per_second: 10, burst: 40 };

interface Bucket {
  tokens: number;
  at: number;
}

export class InviteLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly maxEntries = 10_000,
  ) {}

  /** Takes one token for `address` under `limit`; false when its bucket is empty. */
  take(address: string, limit: InviteLimit): boolean {
    const now = this.now();
    let b = this.buckets.get(address);
    if (b) {
      this.buckets.delete(address); // re-inserted below: the Map's order is least recently used first
      b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.per_second);
      b.at = now;
    } else {
      b = { tokens: limit.burst, at: now };
    }
    this.buckets.set(address, b);
    if (this.buckets.size > this.maxEntries) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** sources tracked now (bounded by maxEntries) */
  get size(): number {
    return this.buckets.size;
  }
}
