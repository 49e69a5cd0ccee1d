/**
 * A caller step with `when` waits for its condition (the agent asked its question) before it
 * presses anything; a condition that never comes skips the step. The demo keys the account number
 * only once the agent's collect is open (src/demo.ts).
 */
import { describe, expect, it } from 'vitest';
import { CallClock } from '../../../src/sim/twilio/clock.js';
import { runScript } from '../../../src/sim/twilio/script.js';
import type { SimCallPort } from '../../../src/sim/twilio/call-port.js';

function fakeCall() {
  const digits: { digit: string; atMs: number }[] = [];
  const notes: string[] = [];
  const clock = new CallClock(false, () => undefined);
  const call = {
    clock,
    ended: false,
    lastAudibleMs: 0,
    audibleFrames: 0,
    callerAudio: [],
    listening: () => true,
    note: (_who: string, what: string) => notes.push(what),
    deliverDtmf: (digit: string) => digits.push({ digit, atMs: clock.tickMs() }),
  };
  return { call: call as unknown as SimCallPort, clock, digits, notes };
}

describe('a caller step with when', () => {
  it('presses its digits only after the condition holds, never before', async () => {
    const { call, clock, digits } = fakeCall();
    clock.start();
    let asked = false;
    void clock.until(1000).then(() => (asked = true));
    await runScript(call, [{ when: { ready: () => asked, what: 'the question' }, dtmf: '12' }]);
    clock.stop();
    expect(digits.map((d) => d.digit)).toEqual(['1', '2']);
    expect(digits[0]!.atMs).toBeGreaterThanOrEqual(1000);
  });

  it('a condition that never comes skips the step, says so, and the script goes on', async () => {
    const { call, clock, digits, notes } = fakeCall();
    clock.start();
    await runScript(call, [
      { when: { ready: () => false, what: 'the question', waitMs: 500 }, dtmf: '9' },
      { dtmf: '1' },
    ]);
    clock.stop();
    expect(digits.map((d) => d.digit)).toEqual(['1']);
    expect(notes.join('\n')).toMatch(/waited for the question, which never came/);
  });
});
