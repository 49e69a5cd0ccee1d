import { afterEach, describe, expect, it } from 'vitest';
import type { CallHandle, CallResult, TimelineEntry } from '../../src/sim/twilio/index.js';
import {
  AGENT_NUMBER,
  CALLER_ID,
  CALLER_NUMBER,
  FRONT_DESK,
  callPath,
  child,
  restTwiml,
  stackJanitor,
  startControlStack,
  waitFor,
  type Harness,
} from '../helpers/control.js';
import { scrapeMetrics } from '../helpers/metrics.js';
import { parseTwiml } from '../../src/sim/twilio/index.js';

/**
 * Warm transfers on Twilio, end to end through the simulator: the human's leg is a REST-created
 * call that hears the whisper (its `<Say>` text is the synthesizer's input), presses the accept
 * key, and meets the caller in the call's conference; the caller waits on the agent's hold audio
 * and never hears the whisper; a refusal or no answer leaves the caller with the agent.
 */

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const WHISPER = 'Caller {from_masked} about {reason}. Account {account_number}. They said: {last_caller_turn}';
const CALLER_LINE = 'I have a question about my bill.';
const EXPECTED_WHISPER =
  'Caller ending in 4321 about a billing question. Account 482913. They said: I have a question about my bill.';

function warmAgent(extra: Record<string, unknown> = {}) {
  return {
    greeting: 'Hi, Ada here.',
    transfer: {
      targets: [
        {
          name: 'front_desk',
          kind: 'number',
          value: FRONT_DESK,
          mode: 'warm',
          whisper: WHISPER,
          fields: ['account_number'],
          accept_key: '1',
          ring_timeout_s: 10,
          ...extra,
        },
      ],
      default: 'front_desk',
    },
  };
}

const transferSteps = (after: unknown[] = []) => [
  { wait_for_caller: true, expect: CALLER_LINE, timeout_ms: 20_000 },
  { say: 'Please hold.' },
  {
    verb: 'transfer_to_human',
    args: { destination: 'front_desk', reason: 'a billing question', account_number: '482913' },
    call_id: 'x1',
    await_result: true,
  },
  ...after,
];

const callerScript = [{ afterAgentSilenceMs: 300, say: CALLER_LINE }];

/** The REST-created call: the human's leg. */
async function humanLeg(h: Harness, callerSid: string): Promise<CallHandle> {
  await waitFor(() => [...h.sim.calls.keys()].some((k) => k !== callerSid), 15_000).catch((e) => {
    if (process.env.WARM_DEBUG) {
      console.log(h.sim.calls.get(callerSid)!.timeline.map((t) => `${t.atMs} ${t.who} ${t.what}`).join('\n'));
      console.log(h.logs.lines.filter((l) => /warm|transfer|verb|REST|rest/i.test(l)).join('\n'));
    }
    throw e;
  });
  return [...h.sim.calls.values()].find((c) => c.callSid !== callerSid)!;
}

const says = (timeline: readonly TimelineEntry[]) =>
  timeline.filter((e) => e.what.startsWith('say "')).map((e) => e.what.slice(5, -1));

/** Audible 20 ms frames of what a call heard from tick `fromMs` on. */
function audibleFramesFrom(r: CallResult, fromMs: number, toMs = Infinity): number {
  let n = 0;
  for (let f = 0; (f + 1) * 160 <= r.heard.length; f++) {
    const tick = (f + 1) * 20;
    if (tick < fromMs || tick > toMs) continue;
    let peak = 0;
    for (let i = f * 160; i < (f + 1) * 160; i++) peak = Math.max(peak, Math.abs(r.heard[i]!));
    if (peak >= 400) n++;
  }
  return n;
}

function dump(h: Harness): void {
  if (!process.env.WARM_DEBUG) return;
  for (const c of h.sim.calls.values())
    console.log(c.callSid + '\n' + c.timeline.map((t) => `${t.atMs} ${t.who} ${t.what}`).join('\n'));
  console.log(h.logs.lines.filter((l) => /warm|transfer|verb|call updated|call create/i.test(l)).join('\n'));
}

const noteAt = (timeline: readonly TimelineEntry[], prefix: string): TimelineEntry | undefined =>
  timeline.find((e) => e.what.startsWith(prefix));

describe('warm transfer on Twilio', () => {
  it('the human hears the whisper alone, accepts with the key, and both talk in the conference', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: warmAgent(),
        steps: transferSteps(),
        human: { answer: 'answer', ringMs: 400, script: [{ dtmf: '1' }, { say: 'Hello, this is Bob from billing.' }] },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 40_000, caller: callerScript });
    const human = await humanLeg(h, call.callSid);
    await waitFor(
      () => Boolean(noteAt(call.timeline, 'conference warm-') && noteAt(human.timeline, 'conference warm-')),
      30_000,
    ).catch((e) => {
      dump(h);
      throw e;
    });
    // the caller speaks to the human, in the conference
    call.say('My account is in arrears.');
    await waitFor(() => human.timeline.some((e) => e.what.includes('says')) || true);
    await new Promise((r) => setTimeout(r, 4000)); // both sides' words are played in real time
    call.hangup();
    const [caller, humanResult] = await Promise.all([call.done, human.done]);
    await waitFor(() => h.records.length === 1, 5000);

    // The human's leg was created by REST, to the target, with the ring timeout and signed callbacks.
    const create = h.sim.restRequests.find((r) => r.path.endsWith('/Calls.json'))!;
    expect(create.form).toMatchObject({ To: FRONT_DESK, From: CALLER_ID, Timeout: '10' });
    const statusUrl = new URL(String(create.form.StatusCallback));
    expect(statusUrl.pathname).toBe('/twilio/warm/status');
    expect(statusUrl.searchParams.get('call')).toBe(call.callSid);
    // The human heard the whisper with the call's words; the caller never did.
    expect(says(humanResult.timeline)).toContain(EXPECTED_WHISPER);
    expect(says(caller.timeline).join('|')).not.toContain('Account');
    const sayAt = noteAt(humanResult.timeline, `say "${EXPECTED_WHISPER}`)!;
    const gatherAt = noteAt(humanResult.timeline, 'gather (')!;
    expect(audibleFramesFrom(humanResult, sayAt.tickMs, gatherAt.tickMs)).toBeGreaterThan(25);
    // The caller was moved into the conference only after the accept (a REST update of its call).
    const move = h.sim.restRequests.find((r) => r.path === callPath(call.callSid))!;
    const conf = child(child(restTwiml(move), 'Dial'), 'Conference');
    expect(conf.text).toBe(`warm-${call.callSid}`);
    expect(conf.attrs).toMatchObject({ endConferenceOnExit: 'true', startConferenceOnEnter: 'true' });
    // audio both ways once the two are in: the human's words reach the caller, the caller's the human
    const callerIn = noteAt(caller.timeline, 'conference warm-')!;
    const humanIn = noteAt(humanResult.timeline, 'conference warm-')!;
    expect(audibleFramesFrom(caller, callerIn.tickMs)).toBeGreaterThan(25);
    expect(audibleFramesFrom(humanResult, humanIn.tickMs)).toBeGreaterThan(25);
    // the caller left: the conference ended and the human's leg with it
    expect(humanResult.endedBy).toBe('transfer-completed');

    const session = h.engine.sessions[0]!;
    expect(h.engine.sessions).toHaveLength(1);
    expect(session.toolResults).toEqual([
      {
        callId: 'x1',
        name: 'transfer_to_human',
        output: { status: 'transferred', mode: 'warm', destination: 'front_desk', used_default: false },
      },
    ]);
    const rec = h.records[0]!;
    expect(rec.outcome).toBe('transferred');
    expect(rec.transfer).toMatchObject({ mode: 'warm', target: 'front_desk', result: 'accepted' });
    expect(rec.transfer!.whisper).toContain('Account [redacted]');
    expect(rec.transfer!.callerWaitMs).toBeGreaterThan(0);
    expect(rec.transfer!.acceptedAtMs).toBeGreaterThan(rec.transfer!.startedAtMs);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_warm_transfers_total\{target="front_desk",result="accepted"\} 1/);
    expect(caller.violations).toEqual([]);
    expect(humanResult.violations).toEqual([]);
  }, 60_000);
});

export { parseTwiml };
