import type { CallClock } from './clock.js';

/**
 * DTMF collection for one `<Gather>`: digits pressed while it is active queue up here; the
 * Gather waits for the next one with its own inter-digit timeout on the call's clock.
 */
export class DigitCollector {
  private digits: string[] = [];
  private waiter: ((d: string | null) => void) | undefined;
  /** set by the first digit: a prompt stops playing when the caller starts typing */
  readonly firstDigit: Promise<void>;
  private resolveFirst!: () => void;

  constructor(private readonly clock: CallClock) {
    this.firstDigit = new Promise((r) => (this.resolveFirst = r));
  }

  push(digit: string): void {
    this.resolveFirst();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(digit);
    } else {
      this.digits.push(digit);
    }
  }

  /** The next digit, or null after `timeoutMs` without one (or on abort). */
  async next(timeoutMs: number, signal: AbortSignal): Promise<string | null> {
    const queued = this.digits.shift();
    if (queued !== undefined) return queued;
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<string | null>((resolve) => {
        this.waiter = resolve;
        void this.clock.sleep(timeoutMs, ctl.signal).then(() => {
          if (this.waiter === resolve) {
            this.waiter = undefined;
            resolve(null);
          }
        });
      });
    } finally {
      ctl.abort();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
