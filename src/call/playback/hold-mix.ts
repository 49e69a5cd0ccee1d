import { encodeMulaw, type HoldPlayer } from '../../audio/index.js';
import type { OutboundQueue } from './outbound-queue.js';
import { FRAME } from './units.js';

const FADE_MS = 40;

/**
 * Hold audio in the gaps of the agent's: it fills the pacing when no agent frame is queued, ends
 * after its time (or never), and is never cut dead (a click) — it fades out over 40 ms, either on
 * the pacing (`stop`, its time is up) or into the queue ahead of agent audio (`fadeInto`).
 */
export class HoldMix {
  private player: HoldPlayer | undefined;
  private until = 0;
  private readonly pcm = new Int16Array(FRAME);

  /** `onChange` hears the hold start (true) and end (false), whatever ended it */
  constructor(private readonly onChange?: (active: boolean) => void) {}

  get active(): boolean {
    return this.player !== undefined;
  }

  /** Plays `player` from its start until `untilMs` (the playback's time; Infinity: until stopped). */
  start(player: HoldPlayer, untilMs: number): void {
    player.reset();
    const was = this.player !== undefined;
    this.player = player;
    this.until = untilMs;
    if (!was) this.onChange?.(true);
  }

  /** Fades out on the pacing; the hold ends by itself once the fade has been sent. */
  stop(): void {
    if (this.player && !this.player.done) this.player.fadeOut(FADE_MS);
  }

  /** Ends the hold at once, with no fade: the call is leaving the agent (an operator's action). */
  cut(): void {
    if (!this.player) return;
    this.player = undefined;
    this.onChange?.(false);
  }

  /** Ends the hold now: its fade-out (≤ 4 frames) goes into `queue`, ahead of what comes next. */
  fadeInto(queue: OutboundQueue): void {
    const player = this.player!;
    this.player = undefined;
    player.fadeOut(FADE_MS);
    for (let i = 0; i < 4 && !player.done; i++) {
      player.read(this.pcm);
      queue.enqueueFrame(this.pcm);
    }
    this.onChange?.(false);
  }

  /** Encodes the next hold frame into `into`; false once the hold has ended. */
  readFrame(now: number, into: Uint8Array): boolean {
    const player = this.player!;
    if (now >= this.until && !player.done) {
      player.fadeOut(FADE_MS);
      this.until = Number.POSITIVE_INFINITY; // fade once; calling again would restart it
    }
    if (player.done) {
      this.player = undefined;
      this.onChange?.(false);
      return false;
    }
    player.read(this.pcm);
    encodeMulaw(this.pcm, into);
    return true;
  }
}
