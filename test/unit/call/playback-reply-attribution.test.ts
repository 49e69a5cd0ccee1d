/**
 * Each agent reply's first-frame figure is the moment its own first sample left, however many
 * replies queue up before a stream attaches or while a backlog drains.
 *
 * A seeded generator draws calls of 1 to 6 replies (8 kHz, so stream positions are sample counts),
 * each announced as a turn and pushed in chunks, with the stream attaching at a random moment
 * (before, between or after the replies). A sink records when every byte left. The reference is
 * computed from the sink alone: reply i starts at the sum of the earlier replies' lengths, and its
 * first frame is the time the byte at that position was sent, minus when the reply arrived.
 */
import { describe, expect, it } from 'vitest';
import { ManualPaceClock } from '../../../src/call/pace-clock.js';
import { Playback, type PlaybackSink } from '../../../src/call/playback.js';
import { Rng } from '../../helpers/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0xa77a);
const CASES = 300;

class TimedSink implements PlaybackSink {
  /** [time sent, cumulative bytes after this send] */
  readonly sends: [number, number][] = [];
  total = 0;
  constructor(private readonly clock: ManualPaceClock) {}
  sendAudio(mu: Uint8Array): void {
    this.total += mu.length;
    this.sends.push([this.clock.now(), this.total]);
  }
  sendMark(): void {}
  sendClear(): void {}
  /** when the byte at `pos` left */
  sentAt(pos: number): number | undefined {
    return this.sends.find(([, upTo]) => upTo > pos)?.[0];
  }
}

function runCase(seed: number): string[] {
  const rng = new Rng(seed);
  const clock = new ManualPaceClock(() => rng.float() * 10);
  const pb = new Playback({ leadMs: [60, 200, 500][rng.int(3)]!, maxJitterMs: 0, clock });
  const sink = new TimedSink(clock);
  const replies = 1 + rng.int(6);
  const attachAt = rng.float() * replies * 1500;
  let attached = false;
  let t = 0;
  let pos = 0;
  const expected: { at: number; start: number }[] = [];
  for (let r = 0; r < replies; r++) {
    t += 50 + rng.float() * 1200;
    if (!attached && t >= attachAt) {
      clock.advanceTo(attachAt);
      pb.attach(sink);
      attached = true;
    }
    clock.advanceTo(t);
    pb.markTurn(t - 300);
    const len = 160 * (1 + rng.int(60)) + (rng.float() < 0.3 ? rng.int(160) : 0);
    expected.push({ at: clock.now(), start: pos });
    for (let s = 0; s < len;) {
      const k = Math.min(len - s, 1 + rng.int(1600));
      pb.pushAgentAudio(new Int16Array(k).fill(1000), 8000);
      s += k;
      if (rng.float() < 0.3) {
        t += rng.float() * 40;
        clock.advanceTo(t);
      }
    }
    pos += len;
  }
  if (!attached) {
    clock.advanceTo(Math.max(t, attachAt));
    pb.attach(sink);
  }
  clock.advanceTo(clock.now() + pos / 8 + 3000); // everything drains
  const got = pb.stats.replies.map((r) => r.firstFrameMs);
  pb.close();
  const want = expected.map((e) => {
    const sent = sink.sentAt(e.start);
    return sent === undefined ? undefined : sent - e.at;
  });
  const problems: string[] = [];
  if (sink.total !== pos) problems.push(`sent ${sink.total} of ${pos} samples`);
  if (JSON.stringify(got) !== JSON.stringify(want))
    problems.push(`seed ${seed}: first frames ${JSON.stringify(got)}, reference ${JSON.stringify(want)}`);
  return problems;
}

describe('reply first-frame attribution', () => {
  it(`matches each reply to the send of its own first sample (${CASES} seeded calls, attach at any moment)`, () => {
    const problems: string[] = [];
    for (let c = 0; c < CASES; c++) problems.push(...runCase(SEED + c));
    expect(problems, problems.slice(0, 5).join('\n')).toEqual([]);
  });
});
