import { afterEach, describe, expect, it } from 'vitest';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { AUTH_TOKEN } from '../helpers/harness.js';
import {
  ACCOUNT_SID,
  CALLER_NUMBER,
  FRONT_DESK,
  stackJanitor,
  startControlStack,
  voiceRuns,
  waitFor,
  type Harness,
} from '../helpers/control.js';
import { openToken } from '../helpers/raw-twilio.js';

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const IVR_NUMBER = '+15550002222';
const PROMPT = 'Press 1 for support.';
const ivrNumbers = {
  [IVR_NUMBER]: {
    ivr: {
      prompt: { say: PROMPT },
      options: { '1': { agent: 'support' }, '2': { hangup: true } },
      timeout_s: 1,
      max_attempts: 2,
      invalid_say: 'Not a valid choice.',
      default: { transfer: 'front_desk' },
    },
  },
};

async function ivrStack(): Promise<Harness> {
  return stacks.track(
    await startControlStack({
      numbers: ivrNumbers,
      steps: [{ say: 'Support here.' }, { wait_for_caller: true, timeout_ms: 20_000 }],
      human: { answer: 'answer', ringMs: 200, talkMs: 300 },
    }),
  );
}

const ivrInputs = (h: Harness) => h.logs.find('IVR input').map((l) => [l.attempt, l.choice]);
const said = (timeline: { who: string; what: string }[]) =>
  timeline.filter((e) => e.who === 'twilio' && e.what.startsWith('say ')).map((e) => e.what);

describe('IVR menu before the agent', () => {
  it('a valid key goes to the agent: signed Gather action, then a stream to the chosen agent', async () => {
    const h = await ivrStack();
    const call = h.sim.placeCall({ to: IVR_NUMBER, from: CALLER_NUMBER, maxDurationMs: 8000, caller: [{ dtmf: '1' }] });
    await waitFor(() => h.engine.sessions[0]?.transcripts.length === 1, 5000);
    await waitFor(() => call.timeline.some((e) => e.who === 'agent' && e.what === 'silent'), 3000);
    call.hangup();
    const result = await call.done;
    expect(ivrInputs(h)).toEqual([[1, '1']]);
    expect(result.timeline.filter((e) => e.what.startsWith('POST /twilio/ivr')).map((e) => e.what)).toEqual([
      expect.stringMatching(/→ 200/),
    ]);
    expect(result.streams).toHaveLength(1);
    expect(openToken(result.streams[0]!.customParameters.token!, call.callSid)).toMatchObject({
      purpose: 'call',
      agent: 'support',
      from: CALLER_NUMBER,
      to: IVR_NUMBER,
    });
    expect(h.engine.sessions).toHaveLength(1);
    expect(voiceRuns(result.heard)).toHaveLength(1); // the agent's words, after the prompt
    expect(h.sim.restRequests).toEqual([]); // the menu is TwiML answers, not REST updates
    expect(result.violations).toEqual([]);
  });

  it('an invalid key repeats the prompt with the invalid-choice line, then a valid key is taken', async () => {
    const h = await ivrStack();
    const call = h.sim.placeCall({
      to: IVR_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 8000,
      caller: [{ dtmf: '9' }, { dtmf: '2' }],
    });
    const result = await call.done;
    expect(ivrInputs(h)).toEqual([
      [1, 'invalid'],
      [2, '2'],
    ]);
    expect(said(result.timeline)).toEqual([`say "${PROMPT}"`, `say "Not a valid choice. ${PROMPT}"`]);
    expect(result.endedBy).toBe('bridge-hangup'); // option 2 hangs up
    expect(h.engine.sessions).toHaveLength(0);
    expect(result.violations).toEqual([]);
  });

  it('no input repeats the prompt up to max_attempts, then the default applies (a transfer)', async () => {
    const h = await ivrStack();
    const call = h.sim.placeCall({ to: IVR_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    const result = await call.done;
    expect(ivrInputs(h)).toEqual([
      [1, 'none'],
      [2, 'none'],
    ]);
    expect(said(result.timeline)).toEqual([`say "${PROMPT}"`, `say "${PROMPT}"`]);
    expect(result.timeline.filter((e) => e.what === 'gather: no input, continuing')).toHaveLength(2);
    expect(result.dialed).toEqual([{ target: `number:${FRONT_DESK}`, result: 'completed' }]);
    expect(h.engine.sessions).toHaveLength(0);
    expect(result.violations).toEqual([]);
  });

  it('refuses an unsigned or wrongly signed Gather action with 403', async () => {
    const h = await ivrStack();
    const url = `${h.bridgeUrl}/twilio/ivr?to=${encodeURIComponent(IVR_NUMBER)}&attempt=1`;
    const params = {
      CallSid: 'CA' + '0'.repeat(32),
      AccountSid: ACCOUNT_SID,
      From: CALLER_NUMBER,
      To: IVR_NUMBER,
      CallStatus: 'in-progress',
      Direction: 'inbound',
      Digits: '1',
    };
    const post = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        body: new URLSearchParams(params),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ 'x-twilio-signature': signTwilioRequest('wrong-token', url, params) })).status).toBe(403);
    const tampered = signTwilioRequest(AUTH_TOKEN, url, { ...params, Digits: '2' });
    expect((await post({ 'x-twilio-signature': tampered })).status).toBe(403);
    const ok = await post({ 'x-twilio-signature': signTwilioRequest(AUTH_TOKEN, url, params) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<Connect><Stream');
  });
});
