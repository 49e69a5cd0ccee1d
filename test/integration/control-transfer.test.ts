import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_NUMBER, BILLING_SIP, CALLER_ID, CALLER_NUMBER, FRONT_DESK, callPath, child, restTwiml, stackJanitor,
  startControlStack, waitFor,
} from '../helpers/control.js';

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const ANNOUNCE = 'Transferring you now.';

describe('transfer_to_human', () => {
  it('cold transfer answered: REST <Dial> in Twilio form after the words were heard, engine told and closed', async () => {
    const h = stacks.track(await startControlStack({
      steps: [
        { say: ANNOUNCE },
        { verb: 'transfer_to_human', args: { destination: 'billing', reason: 'asked for billing' }, call_id: 'x1', await_result: true },
      ],
      human: { answer: 'answer', ringMs: 300, talkMs: 400 },
    }));
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    const result = await call.done;
    await waitFor(() => h.records.length === 1);

    expect(h.sim.restRequests).toHaveLength(1);
    const req = h.sim.restRequests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: callPath(call.callSid), authOk: true, status: 200 });
    expect(req.path).toMatch(/^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Calls\/CA[0-9a-f]{32}\.json$/);
    expect(Object.keys(req.form)).toEqual(['Twiml']);
    const dial = child(restTwiml(req), 'Dial');
    expect(dial.attrs).toMatchObject({ answerOnBridge: 'true', timeout: '12', callerId: CALLER_ID });
    const action = new URL(dial.attrs.action!);
    expect(action.origin).toBe(h.bridgeUrl);
    expect(action.pathname).toBe('/twilio/dial-action');
    expect(Object.fromEntries(action.searchParams)).toEqual({ agent: 'support', target: 'billing' });
    expect(child(dial, 'Sip').text).toBe(BILLING_SIP);

    // The REST update went out only once "Transferring you now." had been played to the caller.
    const update = result.timeline.find((e) => e.what.startsWith('REST update: <Dial'))!;
    const lastSilent = result.timeline.filter((e) => e.who === 'agent' && e.what === 'silent' && e.atMs <= update.atMs).at(-1);
    expect(lastSilent).toBeDefined();
    expect(result.timeline.some((e) => e.who === 'agent' && e.what === 'speaking' && e.atMs > lastSilent!.atMs && e.atMs < update.atMs)).toBe(false);

    const session = h.engine.sessions[0]!;
    expect(h.engine.sessions).toHaveLength(1);
    expect(session.toolResults).toEqual([
      { callId: 'x1', name: 'transfer_to_human', output: { status: 'transferring', destination: 'billing', used_default: false } },
    ]);
    expect(session.closed).toMatchObject({ code: 1000, by: 'client' });
    expect(result.dialed).toEqual([{ target: `sip:${BILLING_SIP}`, result: 'completed' }]);
    expect(h.records[0]).toMatchObject({ callSid: call.callSid, outcome: 'transferred' });
    expect(h.records[0]!.verbs).toContainEqual(expect.objectContaining({ verb: 'transfer_to_human', result: 'started' }));
    expect(result.violations).toEqual([]);
    expect(h.engine.violations).toEqual([]);
  });
});
