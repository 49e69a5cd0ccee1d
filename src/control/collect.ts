/**
 * Gathers caller digits for a `collect` verb: finishes on the finish key, on the digit count,
 * or when the inter-digit timeout passes. The digits still reach the engine as `dtmf` frames;
 * this only assembles the answer the agent asked for.
 */
export type CollectReason = 'finish_key' | 'num_digits' | 'timeout' | 'superseded' | 'call_ended';

export interface CollectResult {
  field: string;
  value: string;
  reason: CollectReason;
}

export class DigitCollector {
  private value = '';
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly opts: { field: string; numDigits?: number; finishOnKey: string; timeoutMs: number },
    private readonly onDone: (r: CollectResult) => void,
  ) {
    this.arm();
  }

  /** Returns true while collecting (the digit was taken). */
  push(digit: string): boolean {
    if (this.done) return false;
    if (this.opts.finishOnKey && digit === this.opts.finishOnKey) {
      this.finish('finish_key');
      return true;
    }
    this.value += digit;
    if (this.opts.numDigits && this.value.length >= this.opts.numDigits) this.finish('num_digits');
    else this.arm();
    return true;
  }

  get active(): boolean {
    return !this.done;
  }

  finish(reason: CollectReason): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.onDone({ field: this.opts.field, value: this.value, reason });
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish('timeout'), this.opts.timeoutMs);
  }
}
