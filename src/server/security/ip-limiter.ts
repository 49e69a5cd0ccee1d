/**
 * Per-IP limit on refused (unsigned or wrongly signed) Twilio traffic: an address that keeps
 * failing signature checks is answered 429 for the rest of its window. Signed traffic never
 * counts against it and is never blocked by it (an address can be shared with Twilio's). The table is bounded: a flood from many addresses
 * evicts the oldest entries instead of growing memory.
 */
export class RefusalLimiter {
  private readonly hits = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly maxRefusals = 30,
    private readonly windowMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  /** true when this address is over its allowance in the current window */
  blocked(ip: string, now = Date.now()): boolean {
    const h = this.hits.get(ip);
    if (!h) return false;
    if (now - h.windowStart > this.windowMs) {
      this.hits.delete(ip);
      return false;
    }
    return h.count >= this.maxRefusals;
  }

  noteRefusal(ip: string, now = Date.now()): void {
    const h = this.hits.get(ip);
    if (h && now - h.windowStart <= this.windowMs) {
      h.count++;
      return;
    }
    this.hits.delete(ip);
    this.hits.set(ip, { count: 1, windowStart: now });
    if (this.hits.size > this.maxEntries) this.hits.delete(this.hits.keys().next().value!);
  }
}
