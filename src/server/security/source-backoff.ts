/**
 * Per-source backoff for refused credentials (console login, admin bearer token): a source (the
 * client address as TRUST_PROXY_HOPS lets the server see it) may fail `free` times, then each
 * further refusal makes it wait twice as long as the one before (1 s, 2 s, … up to `maxMs`),
 * answered 429 with Retry-After. A source is forgotten `forgetMs` after its last refusal.
 *
 * Never a lock: a source is only ever slowed by its own refusals, and whoever checks the
 * credential lets a correct one through even while its source backs off (docs/decisions.md:
 * the token's 128 bits stop guessing; this bounds the noise and tells a client it is refused).
 * The table is bounded: past `maxEntries` the source refused longest ago is dropped first.
 */
export interface BackoffOptions {
  /** refusals allowed before the first wait */
  free: number;
  /** the first wait; each further refusal doubles it */
  baseMs: number;
  maxMs: number;
  /** a source with no refusal for this long is forgotten */
  forgetMs: number;
  maxEntries: number;
  /**
   * A fixed window instead of the doubling: refusals are counted per window of this length (from
   * a source's first refusal in it), and past `free` the source waits for the rest of its window.
   * The /v1 API's rule: more than 30 refusals a minute, 429 for the rest of the minute.
   */
  windowMs?: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  free: 5,
  baseMs: 1000,
  maxMs: 5 * 60_000,
  forgetMs: 15 * 60_000,
  maxEntries: 10_000,
};

interface Entry {
  refusals: number;
  /** when the entry's window began (windowMs only) */
  start: number;
  /** the source waits until then (ms since the epoch); 0 while within its free refusals */
  until: number;
  last: number;
}

export class SourceBackoff {
  private readonly entries = new Map<string, Entry>();
  private readonly o: BackoffOptions;

  constructor(
    options: Partial<BackoffOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.o = { ...DEFAULT_BACKOFF, ...options };
  }

  /** How long `source` must still wait, in ms (0: it is not backing off). */
  waitMs(source: string): number {
    const e = this.live(source);
    return e ? Math.max(0, e.until - this.now()) : 0;
  }

  /** A refused credential from `source`; returns the wait it now has (0 within its free refusals). */
  refused(source: string): number {
    const now = this.now();
    const e = this.live(source) ?? { refusals: 0, start: now, until: 0, last: now };
    const window = this.o.windowMs;
    if (window !== undefined && now - e.start >= window) {
      e.refusals = 0;
      e.start = now;
      e.until = 0;
    }
    e.refusals++;
    e.last = now;
    const over = e.refusals - this.o.free;
    if (over > 0 && window !== undefined) e.until = e.start + window;
    else if (over > 0) e.until = now + Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(over - 1, 30));
    // Re-inserted: the map's order is the order of last refusals, oldest first.
    this.entries.delete(source);
    this.entries.set(source, e);
    this.sweep(now);
    return Math.max(0, e.until - now);
  }

  /** sources remembered (bounded by maxEntries) */
  get size(): number {
    return this.entries.size;
  }

  private live(source: string): Entry | undefined {
    const e = this.entries.get(source);
    if (!e) return undefined;
    if (this.expired(e, this.now())) {
      this.entries.delete(source);
      return undefined;
    }
    return e;
  }

  private expired(e: Entry, now: number): boolean {
    return now - e.last > this.o.forgetMs && now >= e.until;
  }

  /** Drops forgotten sources from the old end, then the oldest past the bound. */
  private sweep(now: number): void {
    for (const [k, e] of this.entries) {
      if (!this.expired(e, now)) break;
      this.entries.delete(k);
    }
    while (this.entries.size > this.o.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }
}

/** Retry-After in whole seconds (at least 1) for a wait in ms. */
export function retryAfterSeconds(waitMs: number): string {
  return String(Math.max(1, Math.ceil(waitMs / 1000)));
}

/**
 * One log line per `everyMs` for a kind of refusal, with how many were not logged since: a
 * spray of wrong credentials must not flood the log.
 */
export class QuietLog {
  private lastAt = -Infinity;
  private unlogged = 0;

  constructor(
    private readonly write: (fields: Record<string, unknown> & { suppressed: number }) => void,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(fields: Record<string, unknown> = {}): void {
    const now = this.now();
    if (now - this.lastAt < this.everyMs) {
      this.unlogged++;
      return;
    }
    this.lastAt = now;
    const suppressed = this.unlogged;
    this.unlogged = 0;
    this.write({ ...fields, suppressed });
  }
}
