/**
 * Write coalescing: the messages the bridge writes while it works through one batch of ready
 * sockets leave together, at the end of that batch, instead of one by one as each is produced.
 *
 * Why: every write to a peer that sleeps wakes it, and on a virtual machine a wake-up is an
 * interrupt to another CPU that costs the writer. One caller frame in → one engine frame out,
 * one agent frame in → one Twilio message out: spread evenly over 20 ms, 300 calls meant ~30,000
 * separate wake-ups a second. Held until the end of the batch, the first write wakes the peer
 * and the others find it awake. Fewer wake-ups cost the bridge and its peers less than the hold adds
 * (measured in docs/capacity.md), so it is on by default, 1 ms.
 *
 * The price is latency, so it is bounded: a socket's writes are held (`cork`) at most until the
 * poll phase ends (`setImmediate`), until `maxHoldMs` has passed since the batch's first hold,
 * or until `maxSockets` sockets are held — whichever comes first. Every flush reports how long
 * each socket's oldest message waited (`meter`), so the wait shows in the metrics.
 *
 * Ordering is the socket's own: held messages, and anything `ws` writes itself (pongs, close
 * frames), go out in the order written. `end()` uncorks by itself, so a closing socket never
 * keeps a held message; `destroy()` drops it, as it would drop any unsent data.
 */

/** What the coalescer needs of a socket: Node's `net.Socket` (or `tls.TLSSocket`) has it. */
export interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

/** Where a flush reports each socket's wait: a histogram child (`labels()`) fits. */
export interface HoldMeter {
  /** the wait of the socket's oldest held message, in seconds */
  observe(seconds: number): void;
}

export interface WriteCoalescerOptions {
  /** the longest a batch is held, in ms (> 0) */
  maxHoldMs: number;
  /** the most sockets held at once; the next hold flushes them first */
  maxSockets?: number;
  /** a clock in ms (tests); performance.now() otherwise */
  now?: () => number;
}

/** One socket's place in the coalescer; `hold()` before each write. */
export class HeldSocket {
  /** true while this socket's writes wait in the current batch */
  held = false;
  /** when its first write of the batch was held */
  since = 0;

  constructor(
    private readonly coalescer: WriteCoalescer,
    readonly socket: CorkableSocket,
    readonly meter?: HoldMeter,
  ) {}

  /** Holds this socket's writes until the batch is flushed. Call right before writing. */
  hold(): void {
    this.coalescer.hold(this);
  }

  /**
   * Sends what this socket holds now, ahead of the batch: for a close frame `ws` has just written
   * (a peer that broke the protocol must get its close code, not wait on the batch). The batch's
   * own uncork later finds nothing corked and does nothing.
   */
  release(): void {
    if (this.held) this.socket.uncork();
  }
}

export class WriteCoalescer {
  private readonly maxHoldMs: number;
  private readonly maxSockets: number;
  private readonly clock: () => number;
  private batch: HeldSocket[] = [];
  private batchStart = 0;
  private scheduled = false;
  private flushing = false;
  /** uncork() calls that threw (a socket in a state Node refuses): counted, never thrown */
  uncorkErrors = 0;

  constructor(opts: WriteCoalescerOptions) {
    if (!(opts.maxHoldMs > 0) || !Number.isFinite(opts.maxHoldMs))
      throw new RangeError(`WriteCoalescer: maxHoldMs must be a positive number, got ${opts.maxHoldMs}`);
    this.maxHoldMs = opts.maxHoldMs;
    this.maxSockets = Math.max(1, Math.floor(opts.maxSockets ?? 64));
    this.clock = opts.now ?? (() => performance.now());
  }

  /** Registers a socket; the handle holds its writes. */
  attach(socket: CorkableSocket, meter?: HoldMeter): HeldSocket {
    return new HeldSocket(this, socket, meter);
  }

  /** Sockets held right now. */
  get pending(): number {
    return this.batch.length;
  }

  hold(h: HeldSocket): void {
    if (this.flushing) return; // a write made by a flush goes straight out
    const now = this.clock();
    // The bounds are checked on every write, held socket or not: a batch never outlives maxHoldMs
    // while anything is being written.
    if (
      this.batch.length > 0 &&
      (now - this.batchStart >= this.maxHoldMs || (!h.held && this.batch.length >= this.maxSockets))
    )
      this.flush(now);
    if (h.held) return; // already waiting: this write joins the others
    if (this.batch.length === 0) this.batchStart = now;
    h.held = true;
    h.since = now;
    h.socket.cork();
    this.batch.push(h);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onImmediate);
    }
  }

  /** Sends everything held now. */
  flush(now = this.clock()): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.flushing = true;
    try {
      for (const h of batch) {
        h.held = false;
        try {
          h.socket.uncork();
        } catch {
          this.uncorkErrors++;
        }
        h.meter?.observe((now - h.since) / 1000);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Bound once: the end of every poll phase with held writes runs it. */
  private readonly onImmediate = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
