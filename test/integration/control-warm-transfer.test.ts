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
import { ACCOUNT_SID, AUTH_TOKEN } from '../helpers/harness.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';

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
      console.log(
        h.sim.calls
          .get(callerSid)!
          .timeline.map((t) => `${t.atMs} ${t.who} ${t.what}`)
          .join('\n'),
      );
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
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 40_000,
      caller: callerScript,
    });
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
    // Meanwhile the caller heard the agent's hold audio (no dead air), on its stream.
    const callerInAt = noteAt(caller.timeline, 'joined conference')!.tickMs;
    expect(audibleFramesFrom(caller, callerInAt - (gatherAt.tickMs - sayAt.tickMs), callerInAt - 40)).toBeGreaterThan(
      25,
    );
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
    // the whisper began when the human answered: after the transfer started, before the accept
    expect(rec.transfer!.answeredAtMs).toBeGreaterThanOrEqual(rec.transfer!.startedAtMs);
    expect(rec.transfer!.answeredAtMs).toBeLessThanOrEqual(rec.transfer!.acceptedAtMs!);
    // no context webhook configured: the id is the record's alone, the dial carried none
    expect(rec.transfer!.contextId).toMatch(/^[0-9a-f-]{36}$/);
    expect(create.form.To).toBe(FRONT_DESK);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_warm_transfers_total\{target="front_desk",result="accepted"\} 1/);
    expect(caller.violations).toEqual([]);
    expect(humanResult.violations).toEqual([]);
  }, 60_000);

  it.each([
    ['refused (another key)', { answer: 'answer', ringMs: 300, script: [{ dtmf: '2' }] }, 'refused'],
    ['not answered', { answer: 'no-answer', ringMs: 600 }, 'no_answer'],
    ['busy', { answer: 'busy', ringMs: 300 }, 'busy'],
  ] as const)(
    'the human %s: the caller stays with the same agent session, which is told why and goes on',
    async (_name, human, why) => {
      const AFTER = 'Sorry, nobody could take your call.';
      const h = stacks.track(
        await startControlStack({
          agent: warmAgent(),
          steps: transferSteps([{ say: AFTER }]),
          human: { ...human, script: [...(('script' in human ? human.script : []) as never[])] },
        }),
      );
      const call = h.sim.placeCall({
        to: AGENT_NUMBER,
        from: CALLER_NUMBER,
        maxDurationMs: 40_000,
        caller: callerScript,
      });
      await waitFor(() => (h.engine.sessions[0]?.toolResults.length ?? 0) === 1, 30_000).catch((e) => {
        dump(h);
        throw e;
      });
      const toolResultAt = call.timeline.length;
      // the agent speaks again, to the caller, on the same stream
      await waitFor(
        () => call.timeline.slice(toolResultAt).some((e) => e.who === 'agent' && e.what === 'silent'),
        15_000,
      );
      call.hangup();
      const result = await call.done;
      await waitFor(() => h.records.length === 1, 5000);

      expect(h.engine.sessions).toHaveLength(1);
      expect(h.engine.sessions[0]!.toolResults[0]!.output).toMatchObject({
        error: expect.stringMatching(/^transfer_failed: /),
        mode: 'warm',
        human: why,
      });
      expect(result.streams).toHaveLength(1); // no restart: the caller never left the agent's stream
      expect(result.timeline.some((e) => e.what.startsWith('joined conference'))).toBe(false);
      // no REST request touched the caller's call: only the human's leg was created
      expect(h.sim.restRequests.filter((r) => r.path === callPath(call.callSid))).toEqual([]);
      expect(h.records[0]!.outcome).toBe('caller_hangup');
      expect(h.records[0]!.transfer).toMatchObject({ mode: 'warm', result: why });
      // a human who answered was whispered to; one who never did was not
      if (why === 'refused') expect(h.records[0]!.transfer!.answeredAtMs).toBeGreaterThan(0);
      else expect(h.records[0]!.transfer!.answeredAtMs).toBeUndefined();
      const metrics = await scrapeMetrics(h.bridgeUrl);
      expect(metrics).toContain(`bridge_warm_transfers_total{target="front_desk",result="${why}"} 1`);
      expect(result.violations).toEqual([]);
    },
    60_000,
  );

  it('the caller hangs up during the whisper: the human leg is ended too, never connected', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: warmAgent(),
        steps: transferSteps(),
        human: { answer: 'answer', ringMs: 300, script: [{ dtmf: '1' }] },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 40_000,
      caller: callerScript,
    });
    const human = await humanLeg(h, call.callSid);
    await waitFor(() => human.timeline.some((e) => e.what.startsWith('say "Caller')), 20_000);
    call.hangup();
    const [, humanResult] = await Promise.all([call.done, human.done]);
    await waitFor(() => h.records.length === 1, 5000);

    expect(humanResult.endedBy).toBe('rest-completed');
    expect(humanResult.timeline.some((e) => e.what.startsWith('joined conference'))).toBe(false);
    expect(
      h.sim.restRequests.some((r) => r.path === callPath(humanResult.callSid) && r.form.Status === 'completed'),
    ).toBe(true);
    expect(h.records[0]!.outcome).toBe('caller_hangup');
    expect(h.records[0]!.transfer).toMatchObject({ mode: 'warm', result: 'caller_hangup' });
  }, 60_000);

  it('forged, misdirected and replayed human-leg callbacks are refused, counted, and change nothing', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: warmAgent(),
        steps: transferSteps(),
        // rings long enough for the forged requests below, then does not answer
        human: { answer: 'no-answer', ringMs: 4000 },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 40_000,
      caller: callerScript,
    });
    const human = await humanLeg(h, call.callSid);
    const create = h.sim.restRequests.find((r) => r.path.endsWith('/Calls.json'))!;
    const statusUrl = new URL(String(create.form.StatusCallback));
    const nonce = statusUrl.searchParams.get('nonce')!;
    const acceptUrl = `${h.bridgeUrl}/twilio/warm/accept?call=${call.callSid}&nonce=${nonce}`;
    const otherSid = 'CA' + 'f'.repeat(32);
    const params = (sid: string) => ({
      AccountSid: ACCOUNT_SID,
      CallSid: sid,
      CallStatus: 'in-progress',
      Direction: 'outbound-api',
      From: CALLER_ID,
      To: FRONT_DESK,
      Digits: '1',
    });
    // the right URL from another call's CallSid (a request of another leg, moved here)
    const wrong = await postSigned(acceptUrl, params(otherSid));
    // the human's own CallSid with an earlier attempt's nonce
    const stale = await postSigned(acceptUrl.replace(nonce, 'A'.repeat(22)), params(human.callSid));
    // no signature at all
    const unsigned = await fetch(acceptUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params(human.callSid)).toString(),
    });
    expect(wrong.twiml).toContain('<Hangup/>');
    expect(wrong.twiml).not.toContain('Conference');
    expect(stale.twiml).not.toContain('Conference');
    expect(unsigned.status).toBe(403);

    await waitFor(() => (h.engine.sessions[0]?.toolResults.length ?? 0) === 1, 30_000);
    // the attempt is over: the real accept URL, replayed now, is refused as a replay
    const replay = await postSigned(acceptUrl, params(human.callSid));
    expect(replay.twiml).not.toContain('Conference');
    expect(h.engine.sessions[0]!.toolResults[0]!.output).toMatchObject({ human: 'no_answer' });
    // nothing of it moved the caller
    expect(h.sim.restRequests.filter((r) => r.path === callPath(call.callSid))).toEqual([]);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    for (const reason of ['wrong_call', 'stale_warm_callback', 'replayed'])
      expect(metrics).toContain(`bridge_webhook_rejected_total{route="/twilio/warm/accept",reason="${reason}"} 1`);
    call.hangup();
    await call.done;
  }, 60_000);
});

/** A Twilio webhook, form-encoded and signed as Twilio signs it. */
async function postSigned(url: string, params: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, url, params),
    },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, twiml: await res.text() };
}
