import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_NUMBER,
  BILLING_SIP,
  CALLER_ID,
  CALLER_NUMBER,
  FRONT_DESK,
  callPath,
  child,
  restTwiml,
  stackJanitor,
  startControlStack,
  voiceMs,
  voiceRuns,
  waitFor,
} from '../helpers/control.js';
import { openToken } from '../helpers/raw-twilio.js';

const stacks = stackJanitor();
afterEach(() => stacks.closeAll());

const ANNOUNCE = 'Transferring you now.';

describe('transfer_to_human', () => {
  it('cold transfer answered: REST <Dial> in Twilio form after the words were heard, engine told and closed', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [
          { say: ANNOUNCE },
          {
            verb: 'transfer_to_human',
            args: { destination: 'billing', reason: 'asked for billing' },
            call_id: 'x1',
            await_result: true,
          },
        ],
        human: { answer: 'answer', ringMs: 300, talkMs: 400 },
      }),
    );
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
    // and a one-time nonce of this transfer (a replayed dial-action of another never matches it)
    expect(Object.fromEntries(action.searchParams)).toEqual({
      agent: 'support',
      target: 'billing',
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    });
    expect(child(dial, 'Sip').text).toBe(BILLING_SIP);

    // The REST update went out only once "Transferring you now." had been played in full.
    const update = result.timeline.find((e) => e.what.startsWith('REST update: <Dial'))!;
    const voice = voiceRuns(result.heard);
    expect(voice).toHaveLength(1);
    expect(voice[0]!.endMs - voice[0]!.startMs).toBeGreaterThanOrEqual(voiceMs(ANNOUNCE) - 40);
    expect(voice[0]!.endMs).toBeLessThanOrEqual(update.atMs + 20);

    const session = h.engine.sessions[0]!;
    expect(h.engine.sessions).toHaveLength(1);
    expect(session.toolResults).toEqual([
      {
        callId: 'x1',
        name: 'transfer_to_human',
        output: { status: 'transferring', destination: 'billing', used_default: false },
      },
    ]);
    expect(session.closed).toMatchObject({ code: 1000, reason: 'session ended' }); // after the bridge's session_ending
    expect(result.dialed).toEqual([{ target: `sip:${BILLING_SIP}`, result: 'completed' }]);
    expect(h.records[0]).toMatchObject({ callSid: call.callSid, outcome: 'transferred' });
    expect(h.records[0]!.verbs).toContainEqual(
      expect.objectContaining({ verb: 'transfer_to_human', result: 'started' }),
    );
    expect(result.violations).toEqual([]);
    expect(h.engine.violations).toEqual([]);
  });

  it.each(['busy', 'no-answer'] as const)(
    'transfer not answered (%s): back to the agent on a new stream, new session with the context, no second greeting',
    async (answer) => {
      const GREETING = 'Hi, Ada here.';
      const h = stacks.track(
        await startControlStack({
          agent: { greeting: GREETING },
          steps: [
            { wait_for_caller: true, expect: 'Billing, please.', timeout_ms: 20_000 },
            { say: ANNOUNCE },
            { verb: 'transfer_to_human', args: { destination: 'billing' }, call_id: 'x1', await_result: true },
          ],
          human: { answer, ringMs: 300 },
        }),
      );
      const call = h.sim.placeCall({
        to: AGENT_NUMBER,
        from: CALLER_NUMBER,
        maxDurationMs: 15_000,
        caller: [{ afterAgentSilenceMs: 300, say: 'Billing, please.' }],
      });
      await waitFor(() => h.engine.sessions.length === 2 && h.engine.sessions[1]!.config !== undefined, 8000);
      const [first, second] = h.engine.sessions;
      // the second stream is attached to the session that was opened for it (caller audio flows)
      await waitFor(() => second!.audioMsReceived > 400, 3000);
      call.hangup();
      const result = await call.done;
      await waitFor(() => h.records.length === 2);

      expect(first!.toolResults).toEqual([
        { callId: 'x1', name: 'transfer_to_human', output: expect.objectContaining({ status: 'transferring' }) },
      ]);
      expect(result.dialed).toEqual([{ target: `sip:${BILLING_SIP}`, result: answer }]);
      // Same CallSid, a new stream with a new StreamSid, marked as a resumed call.
      expect(result.streams).toHaveLength(2);
      expect(result.streams[1]!.streamSid).not.toBe(result.streams[0]!.streamSid);
      expect(Object.keys(result.streams[1]!.customParameters)).toEqual(['token']);
      expect(openToken(result.streams[1]!.customParameters.token!, call.callSid)).toMatchObject({
        purpose: 'restart',
        agent: 'support',
      });
      expect(h.records.map((r) => [r.callSid, r.outcome])).toEqual([
        [call.callSid, 'transferred'],
        [call.callSid, 'caller_hangup'],
      ]);
      expect(h.records[1]!.streams).toEqual([result.streams[1]!.streamSid]);

      // The new engine session knows what happened and what was said, and does not greet again.
      const persona = String(second!.config!.persona);
      expect(persona).toContain('You are Ada, the test agent.');
      expect(persona).toContain(`did not succeed (${answer})`);
      expect(persona).toContain('Caller: Billing, please.');
      expect(persona).toContain(`Agent: ${ANNOUNCE}`);
      expect(persona).toContain(`Agent: ${GREETING}`);
      expect(second!.config!.greeting).toBeUndefined();
      expect(second!.configureCount).toBe(1);
      expect(second!.transcripts.filter((t) => t.role === 'assistant')).toEqual([]);
      expect(h.sim.restRequests).toHaveLength(1);
      expect(result.violations).toEqual([]);
      expect(h.engine.violations).toEqual([]);
    },
  );

  it('a destination outside the allow-list is replaced by the default target (verb before the stream is attached)', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [
          { verb: 'transfer_to_human', args: { destination: '+19005550123' }, call_id: 'x1', await_result: true },
        ],
        human: { answer: 'answer', ringMs: 200, talkMs: 200 },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 8000 });
    const result = await call.done;
    expect(h.engine.sessions[0]!.toolResults).toEqual([
      {
        callId: 'x1',
        name: 'transfer_to_human',
        output: { status: 'transferring', destination: 'front_desk', used_default: true },
      },
    ]);
    expect(h.sim.restRequests).toHaveLength(1);
    const dial = child(restTwiml(h.sim.restRequests[0]!), 'Dial');
    expect(child(dial, 'Number').text).toBe(FRONT_DESK);
    expect(h.sim.restRequests[0]!.form.Twiml).not.toContain('9005550123');
    expect(result.dialed).toEqual([{ target: `number:${FRONT_DESK}`, result: 'completed' }]);
  });

  it('a destination outside the allow-list with no default target: error tool_result, no REST request, the call goes on', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: { transfer: { default: undefined } },
        steps: [
          {
            verb: 'transfer_to_human',
            args: { destination: 'sip:anyone@evil.example.com' },
            call_id: 'x1',
            await_result: true,
          },
          { say: 'Sorry, I cannot transfer you.' },
        ],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 8000 });
    await waitFor(() => call.timeline.some((e) => e.who === 'agent' && e.what === 'silent'), 5000);
    call.hangup();
    const result = await call.done;
    await waitFor(() => h.records.length === 1);
    expect(h.engine.sessions[0]!.toolResults).toEqual([
      {
        callId: 'x1',
        name: 'transfer_to_human',
        output: { error: 'transfer_failed: no allowed destination and no default target' },
      },
    ]);
    expect(h.sim.restRequests).toEqual([]);
    expect(result.dialed).toBeUndefined();
    // The whole apology, once (a loaded machine may split it with an underrun the bridge counts).
    const voiced = voiceRuns(result.heard).reduce((ms, r) => ms + r.endMs - r.startMs, 0);
    expect(voiced).toBeCloseTo(voiceMs('Sorry, I cannot transfer you.'), -2);
    expect(h.records[0]).toMatchObject({ outcome: 'caller_hangup' });
    expect(h.records[0]!.verbs).toContainEqual(
      expect.objectContaining({ verb: 'transfer_to_human', result: 'no_target' }),
    );
  });

  it('transfer aborted when the caller barges in over "transferring you now": no REST request, error tool_result', async () => {
    const LONG = 'Transferring you now, please stay on the line while I connect you to a colleague.';
    const h = stacks.track(
      await startControlStack({
        steps: [
          // a real engine emits the verb while its words are still being spoken
          { say: LONG, no_wait: true },
          { wait_ms: 500 },
          { verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'x1', await_result: true },
        ],
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 10_000,
      caller: [{ atMs: 1500, noiseMs: 700 }],
    });
    await waitFor(() => h.engine.sessions[0]?.toolResults.length === 1, 6000);
    const session = h.engine.sessions[0]!;
    // the verb was on its way before the caller spoke up
    const verbAt = session.eventsSent.findIndex((e) => e.event === 'transfer_to_human');
    const flushAt = session.eventsSent.findIndex((e) => e.event === 'flush');
    expect(verbAt).toBeGreaterThan(-1);
    expect(flushAt).toBeGreaterThan(verbAt);
    expect(session.toolResults).toEqual([
      { callId: 'x1', name: 'transfer_to_human', output: { error: 'transfer_aborted: the caller interrupted' } },
    ]);
    await new Promise((r) => setTimeout(r, 300));
    call.hangup();
    const result = await call.done;
    await waitFor(() => h.records.length === 1);
    expect(h.sim.restRequests).toEqual([]);
    expect(result.dialed).toBeUndefined();
    expect(result.streams[0]!.clears).toBe(1);
    const voice = voiceRuns(result.heard);
    expect(voice).toHaveLength(1);
    expect(voice[0]!.endMs - voice[0]!.startMs).toBeLessThan(voiceMs(LONG) - 1000); // cut off
    expect(h.records[0]).toMatchObject({ outcome: 'caller_hangup', bargeIns: 1 });
    expect(h.records[0]!.verbs).toContainEqual(
      expect.objectContaining({ verb: 'transfer_to_human', result: 'aborted' }),
    );
  });

  it('a queue target enqueues the caller (<Enqueue>) until a human picks up', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [{ verb: 'transfer_to_human', args: { destination: 'supervisors' }, call_id: 'x1', await_result: true }],
        human: { answer: 'answer', ringMs: 400, talkMs: 200 },
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 8000 });
    const result = await call.done;
    expect(h.sim.restRequests).toHaveLength(1);
    expect(h.sim.restRequests[0]).toMatchObject({ path: callPath(call.callSid), authOk: true, status: 200 });
    expect(child(restTwiml(h.sim.restRequests[0]!), 'Enqueue').text).toBe('supervisors');
    expect(h.engine.sessions[0]!.toolResults[0]!.output).toEqual({
      status: 'transferring',
      destination: 'supervisors',
      used_default: false,
    });
    expect(result.dialed).toEqual([{ target: 'queue:supervisors', result: 'completed' }]);
    expect(result.violations).toEqual([]);
  });
});
