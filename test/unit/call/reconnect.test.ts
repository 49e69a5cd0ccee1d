/**
 * The engine link's reconnect decision (src/call/reconnect.ts) with plain numbers: the backoff of
 * one outage (100, 600, 1800 ms inside 5 s), the sliding window that catches a flapping engine
 * (a drop that finds 3 reconnects in 60 s gives up), and the closes never retried (1008, 4401, 4403).
 */
import { describe, expect, it } from 'vitest';
import {
  afterHello,
  attemptBudgetMs,
  decideReconnect,
  DEFAULT_RECONNECT_POLICY,
  dropCauseOf,
  NO_RECONNECTS,
  type DropCause,
  type ReconnectDecision,
  type ReconnectHistory,
} from '../../../src/call/reconnect.js';

/** Drops at each time (an attempt failing, no hello in between); the decisions in order. */
function outage(times: number[], cause: DropCause = 'closed', start: ReconnectHistory = NO_RECONNECTS) {
  let h = start;
  const out: ReconnectDecision[] = [];
  for (const t of times) {
    const d = decideReconnect(t, cause, h);
    out.push(d);
    h = d.history;
  }
  return { decisions: out, history: h };
}

describe('the reconnect decision', () => {
  it('keeps the rules of docs/decisions.md as its defaults', () => {
    expect(DEFAULT_RECONNECT_POLICY).toEqual({
      delaysMs: [100, 600, 1800],
      outageMs: 5000,
      minAttemptMs: 250,
      maxReconnects: 3,
      windowMs: 60_000,
    });
  });

  it('backs off 100 ms, 600 ms, 1.8 s within one outage, then gives up with the cause of the last drop', () => {
    // each attempt fails as soon as it starts: a drop right after each pause
    const { decisions } = outage([1000, 1100, 1700, 3500]);
    expect(decisions.map((d) => (d.kind === 'retry' ? d.delayMs : d.kind))).toEqual([100, 600, 1800, 'give_up']);
    expect(decisions[3]).toMatchObject({ kind: 'give_up', cause: 'closed', afterRetrying: true });
    expect(decisions[2]!.history).toEqual({ attempt: 3, outageStart: 1000, reconnects: [1000, 1100, 1700] });
  });

  it('gives up a silent engine (no hello) as silent once the outage is spent', () => {
    const { decisions } = outage([0, 100, 700, 2500], 'silent');
    expect(decisions[3]).toMatchObject({ kind: 'give_up', cause: 'silent' });
  });

  it('does not start an attempt that the 5 s of the outage cannot hold (its pause plus 250 ms)', () => {
    // the third attempt (1800 ms pause) needs 2050 ms left: at +2900 there are 2100, at +2960 only 2040
    const early = outage([0, 100, 2900]).decisions[2]!;
    expect(early).toMatchObject({ kind: 'retry', delayMs: 1800 });
    const late = outage([0, 100, 2960]).decisions[2]!;
    expect(late).toMatchObject({ kind: 'give_up', cause: 'closed', afterRetrying: true });
  });

  it('starts a new outage after a hello: the attempts and the 5 s begin again, the reconnects stay counted', () => {
    const first = outage([0, 100]).history;
    const up = afterHello(first);
    expect(up).toEqual({ attempt: 0, outageStart: 0, reconnects: [0, 100] });
    const next = decideReconnect(20_000, 'closed', up);
    expect(next).toMatchObject({ kind: 'retry', delayMs: 100 });
    expect(next.history).toEqual({ attempt: 1, outageStart: 20_000, reconnects: [0, 100, 20_000] });
  });

  it('calls an engine that comes up and drops again and again flapping: the 4th drop in 60 s gives up', () => {
    let h = NO_RECONNECTS;
    const kinds: string[] = [];
    for (const t of [0, 10_000, 20_000, 30_000]) {
      const d = decideReconnect(t, 'closed', h);
      kinds.push(d.kind === 'retry' ? `retry ${d.delayMs}` : `${d.kind} ${d.cause}`);
      h = afterHello(d.history); // each reconnect came up (hello) before the next drop
    }
    expect(kinds).toEqual(['retry 100', 'retry 100', 'retry 100', 'give_up flapping']);
  });

  it('forgets reconnects older than the window: a drop a minute after the first is retried', () => {
    let h = NO_RECONNECTS;
    for (const t of [0, 10_000, 20_000]) h = afterHello(decideReconnect(t, 'closed', h).history);
    const d = decideReconnect(60_000, 'closed', h); // the one at 0 has left the window
    expect(d).toMatchObject({ kind: 'retry', delayMs: 100 });
    expect(d.history.reconnects).toEqual([10_000, 20_000, 60_000]);
    const flapping = decideReconnect(60_001, 'closed', afterHello(d.history));
    expect(flapping).toMatchObject({ kind: 'give_up', cause: 'flapping', afterRetrying: true });
  });

  it('takes the window and the limit from the agent (max_reconnects, reconnect_window_ms)', () => {
    const policy = { ...DEFAULT_RECONNECT_POLICY, maxReconnects: 1, windowMs: 1000 };
    const a = decideReconnect(0, 'closed', NO_RECONNECTS, policy);
    expect(a.kind).toBe('retry');
    expect(decideReconnect(500, 'closed', afterHello(a.history), policy).kind).toBe('give_up');
    expect(decideReconnect(1000, 'closed', afterHello(a.history), policy).kind).toBe('retry');
  });

  it.each([1008, 4401, 4403])('never retries close %i (policy, key, scope): the fallback runs at once', (code) => {
    expect(dropCauseOf(code)).toBe('refused');
    const d = decideReconnect(0, dropCauseOf(code), NO_RECONNECTS);
    expect(d).toMatchObject({ kind: 'give_up', cause: 'refused', afterRetrying: false });
  });

  it.each([1006, 1011, 4429, 4000, 3000])('retries close %i (dropped, server error, rate limit, unknown)', (code) => {
    expect(dropCauseOf(code)).toBe('closed');
    expect(decideReconnect(0, dropCauseOf(code), NO_RECONNECTS)).toMatchObject({ kind: 'retry', delayMs: 100 });
  });

  it('counts a refusal in the middle of an outage as giving up after retrying', () => {
    const h = outage([0]).history;
    expect(decideReconnect(100, 'refused', h)).toMatchObject({
      kind: 'give_up',
      cause: 'refused',
      afterRetrying: true,
    });
  });

  it("bounds a reconnect's connect and hello deadlines by what is left of the outage, at least 250 ms", () => {
    expect(attemptBudgetMs(123_456, 5000, NO_RECONNECTS)).toBe(5000); // a first connect: its own timeout
    const h = outage([10_000]).history; // outage began at 10 000
    expect(attemptBudgetMs(10_100, 3000, h)).toBe(3000);
    expect(attemptBudgetMs(13_000, 3000, h)).toBe(2000);
    expect(attemptBudgetMs(14_900, 3000, h)).toBe(250);
  });
});
