import { afterEach, describe, expect, it } from 'vitest';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import {
  AGENT_NUMBER,
  CALLER_NUMBER,
  stackJanitor,
  startControlStack,
  waitFor,
  type Harness,
} from '../helpers/control.js';
import { ACCOUNT_SID, AUTH_TOKEN } from '../helpers/harness.js';
import { scrapeMetrics } from '../helpers/metrics.js';

/**
 * A `<Dial action>` request only brings a caller back to an agent when it fits the call's state:
 * the bridge handed this call to a human and the call is still up. A signed dial-action replayed
 * for a call that already ended, or sent for a call that was never transferred, is logged and
 * answered with a hang-up — it never opens an engine session (which would also take a slot).
 */

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const sid = (n: number) => 'CA' + n.toString(16).padStart(32, '0');

async function postDialAction(h: Harness, callSid: string, status: string, edit?: (p: Record<string, string>) => void) {
  const url = `${h.bridgeUrl}/twilio/dial-action?agent=support&target=front_desk`;
  const params: Record<string, string> = {
    AccountSid: ACCOUNT_SID,
    CallSid: callSid,
    CallStatus: 'in-progress',
    Direction: 'inbound',
    From: CALLER_NUMBER,
    To: AGENT_NUMBER,
    DialCallStatus: status,
    DialCallSid: sid(999),
  };
  edit?.(params);
  return postSigned(url, params);
}

/** A Twilio webhook, form-encoded and signed as Twilio signs it (a captured request is exactly this). */
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

/** Anything the route could have started has had the time to show up. */
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('dial-action consistent with the call state', () => {
  it('a signed dial-action for a call that was never transferred opens no engine session', async () => {
    const h = stacks.track(await startControlStack({ steps: [{ say: 'Hi.' }] }));
    const res = await postDialAction(h, sid(1), 'no-answer');
    await settle();
    expect(res.status).toBe(200);
    expect(res.twiml).toContain('<Hangup/>');
    expect(res.twiml).not.toContain('<Connect>');
    expect(h.engine.sessions).toHaveLength(0);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(h.logs.find('dial-action inconsistent with the call: no engine session reopened')).toEqual([
      expect.objectContaining({ callSid: sid(1), status: 'no-answer', reason: 'no_transfer_in_progress' }),
    ]);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(
      /bridge_webhook_rejected_total\{route="\/twilio\/dial-action",reason="no_transfer_in_progress"\} 1/,
    );
  });

  it('a dial-action replayed after the transferred call ended reopens no engine session', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [{ verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'x1', await_result: true }],
        human: { answer: 'answer', ringMs: 200, talkMs: 300 },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 8000,
      statusCallbackUrl: `${h.bridgeUrl}/twilio/status`,
    });
    const result = await call.done;
    expect(result.dialed).toEqual([{ target: 'number:+15550100200', result: 'completed' }]);
    await waitFor(
      () => h.logs.find('call status').some((l) => l.callSid === call.callSid && l.status === 'completed'),
      5000,
    );
    expect(h.engine.sessions).toHaveLength(1);

    // the captured, validly signed dial-action, replayed as if the human had not answered
    const res = await postDialAction(h, call.callSid, 'no-answer');
    await settle();
    expect(res.twiml).toContain('<Hangup/>');
    expect(res.twiml).not.toContain('<Connect>');
    expect(h.engine.sessions).toHaveLength(1);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(h.logs.find('dial-action inconsistent with the call: no engine session reopened')).toEqual([
      expect.objectContaining({ callSid: call.callSid, reason: 'call_ended' }),
    ]);
  });

  it('a dial-action with a status Twilio never sends, or a shifted parameter boundary, is a 400', async () => {
    const h = stacks.track(await startControlStack({ steps: [{ say: 'Hi.' }] }));
    expect((await postDialAction(h, sid(2), 'no-answerTo+15550001111')).status).toBe(400);
    expect((await postDialAction(h, sid(3), 'maybe')).status).toBe(400);
    // `To=+1555…` moved into a name (`To+1555…=`): the same signature, and To would silently vanish
    expect(
      (
        await postDialAction(h, sid(4), 'no-answer', (p) => {
          delete p.To;
          p[`To${AGENT_NUMBER}`] = '';
        })
      ).status,
    ).toBe(400);
    await settle();
    expect(h.engine.sessions).toHaveLength(0);
  });
});

describe('a captured voice webhook replayed after its call ended', () => {
  it('is answered with a hang-up, counted, and opens no engine session and mints no stream token', async () => {
    const h = stacks.track(await startControlStack({ steps: [{ say: 'Hi.' }] }));
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 1500,
      statusCallbackUrl: `${h.bridgeUrl}/twilio/status`,
    });
    await call.done;
    await waitFor(
      () => h.logs.find('call status').some((l) => l.callSid === call.callSid && l.status === 'completed'),
      5000,
    );
    await waitFor(() => h.bridge.ctx.registry.size === 0, 5000);
    const sessionsBefore = h.engine.sessions.length;

    // the attacker's move: the call's own signed /twilio/voice request, sent again
    const url = `${h.bridgeUrl}/twilio/voice`;
    const params: Record<string, string> = {
      AccountSid: ACCOUNT_SID,
      CallSid: call.callSid,
      CallStatus: 'ringing',
      Direction: 'inbound',
      From: CALLER_NUMBER,
      To: AGENT_NUMBER,
    };
    const res = await postSigned(url, params);
    await settle();
    expect(res.status).toBe(200);
    expect(res.twiml).toContain('<Hangup/>');
    expect(res.twiml).not.toContain('<Stream');
    expect(h.engine.sessions).toHaveLength(sessionsBefore);
    expect(h.bridge.ctx.registry.size).toBe(0);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_webhook_rejected_total\{route="\/twilio\/voice",reason="call_ended"\} 1/);
  });
});
