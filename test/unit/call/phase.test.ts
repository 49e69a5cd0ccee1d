/**
 * The call's phase table (src/call/phase.ts): every move it allows is made, a sample of the ones
 * it does not is refused and reported, never thrown, and the phase stays where it was.
 */
import { describe, expect, it } from 'vitest';
import {
  CALL_PHASES,
  CallPhaseState,
  PHASE_TRANSITIONS,
  canMove,
  withAgent,
  type CallPhase,
} from '../../../src/call/phase.js';

/** A phase state already at `at`, reached by allowed moves, with what its observer saw. */
function stateAt(at: CallPhase) {
  const moved: string[] = [];
  const refused: string[] = [];
  const s = new CallPhaseState({
    moved: (f, t) => moved.push(`${f}>${t}`),
    refused: (f, t) => refused.push(`${f}>${t}`),
  });
  const path: Record<CallPhase, CallPhase[]> = {
    connecting: [],
    streaming: ['streaming'],
    on_hold: ['streaming', 'on_hold'],
    awaiting_restart: ['streaming', 'awaiting_restart'],
    transferring: ['streaming', 'transferring'],
    ending: ['streaming', 'ending'],
    ended: ['ended'],
  };
  for (const p of path[at]) expect(s.to(p)).toBe(true);
  expect(s.now).toBe(at);
  moved.length = 0;
  return { s, moved, refused };
}

const ALLOWED: [CallPhase, CallPhase][] = [
  ['connecting', 'streaming'],
  ['connecting', 'on_hold'],
  ['connecting', 'transferring'],
  ['connecting', 'ending'],
  ['connecting', 'ended'],
  ['streaming', 'on_hold'],
  ['streaming', 'awaiting_restart'],
  ['streaming', 'transferring'],
  ['streaming', 'ending'],
  ['streaming', 'ended'],
  ['on_hold', 'streaming'],
  ['on_hold', 'awaiting_restart'],
  ['on_hold', 'transferring'],
  ['on_hold', 'ending'],
  ['on_hold', 'ended'],
  ['awaiting_restart', 'streaming'],
  ['awaiting_restart', 'on_hold'],
  ['awaiting_restart', 'transferring'],
  ['awaiting_restart', 'ending'],
  ['awaiting_restart', 'ended'],
  ['transferring', 'streaming'],
  ['transferring', 'on_hold'],
  ['transferring', 'connecting'],
  ['transferring', 'awaiting_restart'],
  ['transferring', 'ending'],
  ['transferring', 'ended'],
  ['ending', 'streaming'],
  ['ending', 'on_hold'],
  ['ending', 'connecting'],
  ['ending', 'awaiting_restart'],
  ['ending', 'ended'],
];

const REFUSED: [CallPhase, CallPhase][] = [
  ['connecting', 'awaiting_restart'], // no stream has ended: there is nothing to restart
  ['streaming', 'connecting'], // a call never goes back to before its first stream
  ['on_hold', 'connecting'],
  ['awaiting_restart', 'connecting'],
  ['ending', 'transferring'], // a verb owning the end is not overtaken by a transfer
  ['ended', 'streaming'], // nothing leaves `ended`
  ['ended', 'connecting'],
  ['ended', 'on_hold'],
  ['ended', 'awaiting_restart'],
  ['ended', 'transferring'],
  ['ended', 'ending'],
];

describe('the call phase table', () => {
  it('lists exactly the allowed moves these tests make, and nothing else', () => {
    const table = CALL_PHASES.flatMap((f) => PHASE_TRANSITIONS[f].map((t) => `${f}>${t}`)).sort();
    expect(table).toEqual(ALLOWED.map(([f, t]) => `${f}>${t}`).sort());
    // and every pair of phases is either allowed, refused, or the same phase
    for (const f of CALL_PHASES)
      for (const t of CALL_PHASES)
        if (f !== t) expect(canMove(f, t)).toBe(ALLOWED.some(([a, b]) => a === f && b === t));
  });

  it.each(ALLOWED)('moves %s → %s', (from, to) => {
    const { s, moved, refused } = stateAt(from);
    expect(s.to(to)).toBe(true);
    expect(s.now).toBe(to);
    expect(moved).toEqual([`${from}>${to}`]);
    expect(refused).toEqual([]);
    expect(s.refusals).toBe(0);
  });

  it.each(REFUSED)('refuses %s → %s: reported and counted, never thrown, the phase unchanged', (from, to) => {
    const { s, moved, refused } = stateAt(from);
    expect(s.to(to)).toBe(false);
    expect(s.now).toBe(from);
    expect(moved).toEqual([]);
    expect(refused).toEqual([`${from}>${to}`]);
    expect(s.refusals).toBe(1);
  });

  it('treats a move to the current phase as done, reporting nothing', () => {
    for (const p of CALL_PHASES) {
      const { s, moved, refused } = stateAt(p);
      expect(s.to(p)).toBe(true);
      expect(moved).toEqual([]);
      expect(refused).toEqual([]);
    }
  });

  it('starts at connecting, and every phase but ended can reach ended', () => {
    expect(new CallPhaseState({ refused: () => undefined }).now).toBe('connecting');
    for (const p of CALL_PHASES) if (p !== 'ended') expect(canMove(p, 'ended')).toBe(true);
    expect(PHASE_TRANSITIONS.ended).toEqual([]);
  });

  it('says which phases still have the agent with the caller', () => {
    expect(CALL_PHASES.filter(withAgent)).toEqual(['connecting', 'streaming', 'on_hold', 'awaiting_restart']);
  });
});
