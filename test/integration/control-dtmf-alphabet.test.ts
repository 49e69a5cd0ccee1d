/**
 * One DTMF alphabet for both ways of sending digits. Before, `a-d` and `W` passed the controller's
 * check and then made the `<Play digits>` builder throw mid-call (the engine never got its result);
 * now the rule is shared (src/audio/dtmf-digits.ts): `a` is the key A in both modes, `W` a
 * one-second pause in both, and anything else is refused the same way in both.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { detectDtmf } from '../../src/audio/index.js';
import {
  AGENT_NUMBER,
  CALLER_NUMBER,
  restTwiml,
  stackJanitor,
  startControlStack,
  waitFor,
} from '../helpers/control.js';

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

/** A call whose agent sends `digits` (first `send_dtmf`), then `bad` (second): the tool results and what was heard. */
async function sendDigits(mode: 'inband' | 'play_digits', digits: string, bad: string) {
  const h = stacks.track(
    await startControlStack({
      agent: { send_dtmf_mode: mode },
      steps: [
        { say: 'Dialing.' },
        { verb: 'send_dtmf', args: { digits }, call_id: 'd1', await_result: true },
        { verb: 'send_dtmf', args: { digits: bad }, call_id: 'd2', await_result: true },
        { wait_for_caller: true, timeout_ms: 20_000 },
      ],
    }),
  );
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 15_000 });
  await waitFor(() => h.engine.sessions.flatMap((s) => s.toolResults).length === 2, 12_000);
  if (mode === 'play_digits') {
    // Twilio plays the digits between the two streams: wait for the second one.
    await waitFor(
      () => call.timeline.filter((e) => e.who === 'twilio' && /^stream MZ\w+ started$/.test(e.what)).length === 2,
      12_000,
    );
  }
  call.hangup();
  const result = await call.done;
  return { h, result, tools: h.engine.sessions.flatMap((s) => s.toolResults) };
}

describe('send_dtmf: one alphabet in both modes', () => {
  for (const mode of ['inband', 'play_digits'] as const) {
    it(`${mode}: 'a' is the key A and 'W' a one-second pause; 'x' is refused with the rule, nothing sent`, async () => {
      const { h, result, tools } = await sendDigits(mode, '1Wa', '1x');
      expect(tools[0]).toMatchObject({ callId: 'd1', name: 'send_dtmf', output: { status: 'sent', digits: '1WA' } });
      expect(tools[1]).toMatchObject({
        callId: 'd2',
        name: 'send_dtmf',
        output: { error: expect.stringMatching(/^invalid_digits: use 0-9 \* # A-D, w \(half-second pause\) and W/) },
      });
      const hits = detectDtmf(result.heard, 8000);
      expect(hits.map((x) => x.digit).join('')).toBe('1A');
      // 'W' is a whole second on top of the usual gap after a tone, in both modes
      expect(hits[1]!.startMs - hits[0]!.endMs).toBeGreaterThan(950);
      if (mode === 'play_digits') {
        expect(h.sim.restRequests).toHaveLength(1); // the refused digits never reached Twilio
        expect(restTwiml(h.sim.restRequests[0]!).children[0]!.attrs.digits).toBe('1WA');
      } else {
        expect(h.sim.restRequests).toEqual([]);
      }
      expect(result.violations).toEqual([]);
    });
  }
});
