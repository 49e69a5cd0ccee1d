import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ListenTap, MAX_BUFFERED_BYTES, type ListenSink } from '../../../src/observability/listen-tap.js';

class Sink implements ListenSink {
  bufferedAmount = 0;
  sent: Buffer[] = [];
  closed: [number | undefined, string | undefined] | undefined;
  send(data: Buffer): void {
    this.sent.push(Buffer.from(data));
  }
  close(code?: number, reason?: string): void {
    this.closed = [code, reason];
  }
}

/** A tap whose timer never fires on its own: the test flushes. */
const manualTap = () => new ListenTap(3_600_000);

describe('listen tap', () => {
  it('copies each chunk: a reused buffer changed after add() does not change what listeners get', () => {
    const tap = manualTap();
    const sink = new Sink();
    tap.join(sink, () => {});
    const reused = new Uint8Array(160).fill(0x11);
    tap.add(0, reused);
    reused.fill(0x22);
    tap.add(1, reused);
    tap.flush();
    expect(sink.sent).toHaveLength(1);
    const m = sink.sent[0]!;
    expect([...m.subarray(0, 6)]).toEqual([1, 0, 0, 0, 0, 160]); // version, reserved, seq 0, 160 caller bytes
    expect(m.subarray(6, 166).every((b) => b === 0x11)).toBe(true);
    expect(m.subarray(166).every((b) => b === 0x22)).toBe(true);
    expect(m.length).toBe(6 + 320);
    tap.add(1, reused);
    tap.flush();
    expect([...sink.sent[1]!.subarray(0, 6)]).toEqual([1, 0, 0, 1, 0, 0]); // seq 1, no caller audio
    tap.end();
  });

  it('closes a listener too far behind instead of queueing for it; the others keep hearing', () => {
    const tap = manualTap();
    const slow = new Sink();
    const fast = new Sink();
    const why: string[] = [];
    tap.join(slow, (w) => why.push(`slow ${w}`));
    tap.join(fast, (w) => why.push(`fast ${w}`));
    slow.bufferedAmount = MAX_BUFFERED_BYTES + 1;
    tap.add(0, new Uint8Array(160));
    tap.flush();
    expect(slow.closed).toEqual([1008, 'listener too slow']);
    expect(slow.sent).toHaveLength(0);
    expect(fast.sent).toHaveLength(1);
    expect(why).toEqual(['slow too_slow']);
    expect(tap.listeners).toBe(1);
    expect(tap.stats.slowClosed).toBe(1);
    tap.end();
    expect(why).toEqual(['slow too_slow', 'fast call_ended']);
  });

  it('holds at most one second per direction between flushes, whatever arrives (a stalled timer drops, never grows)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 60 }), (sizes) => {
        const tap = manualTap();
        const sink = new Sink();
        tap.join(sink, () => {});
        let total = 0;
        for (const n of sizes) {
          tap.add(0, new Uint8Array(n).fill(0x55));
          total += n;
        }
        tap.flush();
        const got = sink.sent.reduce((a, m) => a + m.length - 6, 0);
        expect(got).toBe(Math.min(total, 8000));
        expect(tap.stats.dropped).toBe(total - got);
        tap.end();
      }),
    );
  });

  it('a listener whose send throws is removed, and the call side never sees the error', () => {
    const tap = manualTap();
    const bad = new Sink();
    bad.send = () => {
      throw new Error('socket gone');
    };
    const why: string[] = [];
    tap.join(bad, (w) => why.push(w));
    tap.add(1, new Uint8Array(160));
    expect(() => tap.flush()).not.toThrow();
    expect(why).toEqual(['send_failed']);
    expect(tap.listeners).toBe(0);
  });
});
