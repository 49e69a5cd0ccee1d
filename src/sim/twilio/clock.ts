/**
 * The 20 ms clock of one simulated call. Everything time-based in the simulator (media pacing,
 * playback, pauses, timeouts, the caller script) is driven by its ticks, so the same code runs
 * in real time (drift-corrected timers, like Twilio) or as fast as the event loop allows.
 */

export const TICK_MS = 20;
/** After an event-loop stall longer than this, ticks are skipped instead of sent in a burst. */
const MAX_CATCH_UP_TICKS = 250;

interface Waiter {
  atTick: number;
  resolve: (reached: boolean) => void;
}

export class CallClock {
  private readonly t0 = performance.now();
  private ticks = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private waiters: Waiter[] = [];
  private stopped = false;
  skippedTicks = 0;

  constructor(
    private readonly realtime: boolean,
    private readonly onTick: () => void,
  ) {}

  /** ms since the call was placed (wall clock in real time, tick time otherwise) */
  now(): number {
    return this.realtime ? Math.round(performance.now() - this.t0) : this.ticks * TICK_MS;
  }

  /** tick time: the media clock */
  tickMs(): number {
    return this.ticks * TICK_MS;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) {
      if (this.realtime) clearTimeout(this.timer as NodeJS.Timeout);
      else clearImmediate(this.timer as NodeJS.Immediate);
    }
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.resolve(false);
  }

  /** Resolves true once tick time reaches `ms`, false if the clock stops first or `signal` aborts. */
  until(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.stopped || signal?.aborted) return Promise.resolve(false);
    const atTick = Math.ceil(ms / TICK_MS);
    if (atTick <= this.ticks) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = { atTick, resolve };
      if (signal) {
        const onAbort = () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          resolve(false);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        w.resolve = (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        };
      }
      this.waiters.push(w);
    });
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    return this.until(this.tickMs() + Math.max(0, ms), signal);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (!this.realtime) {
      this.timer = setImmediate(this.loop);
      return;
    }
    const next = (this.ticks + 1) * TICK_MS - (performance.now() - this.t0);
    this.timer = setTimeout(this.loop, Math.max(0, next));
  }

  private readonly loop = (): void => {
    if (this.stopped) return;
    const due = this.realtime ? Math.floor((performance.now() - this.t0) / TICK_MS) : this.ticks + 1;
    if (due - this.ticks > MAX_CATCH_UP_TICKS) {
      this.skippedTicks += due - MAX_CATCH_UP_TICKS - this.ticks;
      this.ticks = due - MAX_CATCH_UP_TICKS;
    }
    while (this.ticks < due && !this.stopped) {
      this.ticks++;
      this.onTick();
      this.wake();
    }
    this.schedule();
  };

  private wake(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.atTick <= this.ticks);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.atTick > this.ticks);
    for (const w of ready) w.resolve(true);
  }
}
