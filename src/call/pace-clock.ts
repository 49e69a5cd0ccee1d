/**
 * The clock that paces caller-bound audio. Playbacks that have something to do on the clock
 * (frames waiting for room in the leg's buffer, a reply whose playout end must be watched, hold
 * audio) join it and are ticked every PACE_MS; one interval serves every call of the process,
 * so hundreds of calls cost one timer wake-up per tick, not one per call.
 *
 * Injected (session deps → Playback) so that tests can run playback on a simulated clock.
 */
export interface Paced {
  /** Reads its own clock: the member may run on an injected time base. */
  tick(): void;
}

export interface PaceClock {
  readonly periodMs: number;
  now(): number;
  join(p: Paced): void;
  leave(p: Paced): void;
}

export const PACE_MS = 20;

/** One setInterval for the whole process, running only while some playback is joined. */
export class IntervalPaceClock implements PaceClock {
  readonly periodMs = PACE_MS;
  private readonly members = new Set<Paced>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly clock: () => number = () => performance.now()) {}

  now(): number {
    return this.clock();
  }

  join(p: Paced): void {
    this.members.add(p);
    this.timer ??= setInterval(this.onTick, this.periodMs);
  }

  leave(p: Paced): void {
    this.members.delete(p);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Each member's tick is isolated: one call's failure never stops the others' audio. */
  private readonly onTick = (): void => {
    for (const p of this.members) {
      try {
        p.tick();
      } catch (err) {
        this.members.delete(p);
        process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'PlaybackSinkError');
      }
    }
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  };
}

/**
 * A simulated clock for tests: time moves only when `advanceTo` is called, and members are ticked
 * at every multiple of the period on the way, with an optional lateness per tick (a loaded event
 * loop) drawn by the caller.
 */
export class ManualPaceClock implements PaceClock {
  readonly periodMs = PACE_MS;
  private t = 0;
  private nextTick = PACE_MS;
  /** when the next tick really fires (its lateness is drawn once) */
  private firesAt: number | undefined;
  readonly members = new Set<Paced>();

  constructor(private readonly tickLateness: () => number = () => 0) {}

  now(): number {
    return this.t;
  }

  join(p: Paced): void {
    this.members.add(p);
  }

  leave(p: Paced): void {
    this.members.delete(p);
  }

  /** Moves time to `t`, ticking members at each tick due on the way (each possibly late). */
  advanceTo(t: number): void {
    for (;;) {
      this.firesAt ??= this.nextTick + Math.max(0, this.tickLateness());
      if (this.firesAt > t) break; // a late tick that has not fired yet fires on a later advance
      this.t = Math.max(this.t, this.firesAt);
      this.firesAt = undefined;
      // an interval timer keeps its schedule: a late tick does not push the later ones back
      this.nextTick += this.periodMs;
      for (const p of [...this.members]) p.tick();
    }
    this.t = Math.max(this.t, t);
  }
}
