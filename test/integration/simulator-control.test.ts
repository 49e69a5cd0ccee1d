import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import type { HumanBehaviour } from '../../src/sim/twilio/index.js';
import { createTwilioRest } from '../../src/twilio/rest.js';
import { audibleSpan } from '../helpers/audio.js';
import { dialTwiml } from '../../src/twilio/twiml.js';
import {
  ACCOUNT,
  PUBLIC_URL,
  TOKEN,
  simulatorAgainstStandIn,
  streamTwiml,
  toneB64,
  type StandIn,
} from './simulator-standin.js';

const start = simulatorAgainstStandIn();

async function setup(routes: StandIn['routes'], human?: HumanBehaviour) {
  const { standIn, sim } = await start(routes, human);
  const rest = createTwilioRest({
    accountSid: ACCOUNT,
    authToken: TOKEN,
    apiBase: sim.restBase,
    logger: silentLogger(),
  });
  return { standIn, sim, rest };
}

describe('Twilio simulator: REST call control', () => {
  it('Status=completed stops the stream and ends the call; a second hang-up is "already ended"', async () => {
    const { standIn, sim, rest } = await setup({ '/twilio/voice': streamTwiml({}, '<Say>never heard</Say>') });
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 });
    standIn.onSocket = (s) => {
      void s.waitFor((m) => m.event === 'start').then(() => setTimeout(() => void rest.hangup(call.callSid), 200));
    };
    const result = await call.done;
    expect(result.endedBy).toBe('rest-completed');
    expect(result.restUpdates).toBe(1);
    const sock = standIn.sockets[0]!;
    expect(sock.messages.at(-1)).toMatchObject({ event: 'stop', stop: { callSid: call.callSid, accountSid: ACCOUNT } });
    expect(result.timeline.some((e) => e.what.startsWith('say'))).toBe(false);
    const req = sim.restRequests[0]!;
    expect(req).toMatchObject({
      method: 'POST',
      path: `/2010-04-01/Accounts/${ACCOUNT}/Calls/${call.callSid}.json`,
      authOk: true,
      form: { Status: 'completed' },
      status: 200,
    });
    expect(await rest.hangup(call.callSid)).toEqual({ ok: true, alreadyEnded: true });
    expect(sim.restRequests[1]!.status).toBe(404);
  });

  it('answers 404 with code 20404 for unknown calls and 401 for wrong credentials', async () => {
    const { sim, rest } = await setup({});
    expect(await rest.updateCallTwiml('CA00000000000000000000000000000000', '<Response/>')).toMatchObject({
      ok: false,
      status: 404,
      code: 20404,
    });
    const bad = createTwilioRest({
      accountSid: ACCOUNT,
      authToken: 'wrong-token-123456',
      apiBase: sim.restBase,
      logger: silentLogger(),
    });
    expect(await bad.hangup('CA00000000000000000000000000000000')).toMatchObject({
      ok: false,
      status: 401,
      code: 20003,
    });
    expect(sim.restRequests.map((r) => [r.status, r.authOk])).toEqual([
      [404, true],
      [401, false],
    ]);
  });

  it('refuses an invalid or oversized TwiML update with 400 and keeps the call going', async () => {
    const { standIn, sim, rest } = await setup({ '/twilio/voice': streamTwiml() });
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 });
    await new Promise<void>(
      (resolve) => (standIn.onSocket = (s) => void s.waitFor((m) => m.event === 'start').then(() => resolve())),
    );
    expect(await rest.updateCallTwiml(call.callSid, '<Response><Say>unclosed</Response>')).toMatchObject({
      ok: false,
      status: 400,
      code: 12100,
    });
    expect(
      await rest.updateCallTwiml(call.callSid, `<Response><Say>${'x'.repeat(4000)}</Say></Response>`),
    ).toMatchObject({ ok: false, status: 400 });
    expect(standIn.sockets[0]!.messages.some((m) => m.event === 'stop')).toBe(false);
    call.hangup();
    const result = await call.done;
    expect(result.restUpdates).toBe(0);
    expect(result.endedBy).toBe('caller');
  });

  it('a TwiML update ends the stream with stop; <Dial> busy posts the action; its TwiML opens a new stream', async () => {
    const { standIn, sim, rest } = await setup(
      {
        '/twilio/voice': streamTwiml({ leg: 'first' }),
        '/twilio/dial-action': streamTwiml({ leg: 'second' }),
      },
      { answer: 'busy', ringMs: 300 },
    );
    const call = sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 8000 });
    standIn.onSocket = (s) => {
      void s
        .waitFor((m) => m.event === 'start')
        .then((start) => {
          if (start.start.customParameters.leg === 'first') {
            const twiml = dialTwiml({
              target: { kind: 'number', value: '+15550009999' },
              timeout: 10,
              action: `${PUBLIC_URL}/twilio/dial-action?agent=a`,
            });
            setTimeout(() => void rest.updateCallTwiml(call.callSid, twiml), 200);
          } else {
            setTimeout(() => s.ws.close(), 300);
          }
        });
    };
    const result = await call.done;
    const [first, second] = standIn.sockets;
    expect(first!.messages.at(-1)!.event).toBe('stop');
    const action = standIn.webhooks.find((w) => w.path.startsWith('/twilio/dial-action'))!;
    expect(action.sigOk).toBe(true);
    expect(action.path).toBe('/twilio/dial-action?agent=a');
    expect(action.params).toMatchObject({ DialCallStatus: 'busy', CallSid: call.callSid });
    const start2 = second!.messages.find((m) => m.event === 'start')!;
    expect(start2.start.callSid).toBe(call.callSid);
    expect(start2.streamSid).not.toBe(first!.streamSid);
    expect(start2.start.customParameters).toEqual({ leg: 'second' });
    expect(start2.sequenceNumber).toBe('1');
    expect(result.dialed).toEqual([{ target: 'number:+15550009999', result: 'busy' }]);
    expect(result.streams.map((s) => s.endedBy)).toEqual(['stop', 'bridge-close']);
    expect(result.restUpdates).toBe(1);
    expect(result.endedBy).toBe('twiml-end');
    expect(result.violations).toEqual([]);
    expect(result.timeline.some((e) => e.who === 'twilio' && e.what.startsWith('REST update: <Dial'))).toBe(true);
  });

  it('an answered <Dial> without action ends as transfer-completed', async () => {
    const { sim } = await setup(
      { '/twilio/voice': '<Response><Dial><Sip>sip:agent@pbx.example.com</Sip></Dial></Response>' },
      { answer: 'answer', ringMs: 200, talkMs: 300 },
    );
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 }).done;
    expect(result.endedBy).toBe('transfer-completed');
    expect(result.dialed).toEqual([{ target: 'sip:sip:agent@pbx.example.com', result: 'completed' }]);
    expect(result.timeline.filter((e) => e.who === 'human').map((e) => e.what)).toEqual(['answered', 'hung up']);
  });

  it('<Enqueue> holds the caller, then a human dequeues and talks', async () => {
    const { sim } = await setup(
      { '/twilio/voice': '<Response><Enqueue>support</Enqueue></Response>' },
      { answer: 'answer', ringMs: 400, talkMs: 200 },
    );
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 5000 }).done;
    expect(result.endedBy).toBe('transfer-completed');
    expect(result.dialed).toEqual([{ target: 'queue:support', result: 'completed' }]);
    expect(result.timeline.map((e) => e.what)).toContain('dequeued from "support"');
  });

  it('posts signed status callbacks numbered from 0', async () => {
    const { standIn, sim } = await setup({
      '/twilio/voice': '<Response><Pause length="1"/></Response>',
      '/twilio/status': '<Response/>',
    });
    const call = sim.placeCall({
      to: '+1',
      from: '+2',
      maxDurationMs: 5000,
      statusCallbackUrl: `${PUBLIC_URL}/twilio/status`,
    });
    await call.done;
    await sim.close();
    const cbs = standIn.webhooks.filter((w) => w.path === '/twilio/status');
    expect(cbs.every((c) => c.sigOk)).toBe(true);
    const byStatus = Object.fromEntries(cbs.map((c) => [c.params.CallStatus, c.params]));
    expect(Object.keys(byStatus).sort()).toEqual(['completed', 'in-progress', 'initiated', 'ringing']);
    expect(cbs.map((c) => Number(c.params.SequenceNumber)).sort()).toEqual([0, 1, 2, 3]);
    expect(byStatus.completed!.CallDuration).toMatch(/^[0-9]+$/);
    expect(byStatus.completed!.Timestamp).toMatch(/\+0000$/);
    expect(byStatus.completed!.CallSid).toBe(call.callSid);
  });

  it('creates an outbound call over REST that fetches its Url when answered', async () => {
    const { standIn, sim, rest } = await setup(
      { '/twilio/outbound': '<Response><Hangup/></Response>' },
      { answer: 'answer', ringMs: 100 },
    );
    const res = await rest.createCall({
      to: '+15550002222',
      from: '+15550003333',
      url: `${PUBLIC_URL}/twilio/outbound`,
    });
    expect(res.ok).toBe(true);
    if (!res.ok || !res.callSid) throw new Error('no callSid');
    const result = await sim.calls.get(res.callSid)!.done;
    expect(result.endedBy).toBe('bridge-hangup');
    const hook = standIn.webhooks.find((w) => w.path === '/twilio/outbound')!;
    expect(hook.params).toMatchObject({ Direction: 'outbound-api', To: '+15550002222', CallSid: res.callSid });
  });

  it('the caller speaks (offline TTS) after the agent has spoken and gone quiet', async () => {
    const { standIn, sim } = await setup({ '/twilio/voice': streamTwiml() });
    standIn.onSocket = (s) => {
      void s.waitFor((m) => m.event === 'start').then(() => s.media(toneB64(600)));
    };
    const call = sim.placeCall({
      to: '+1',
      from: '+2',
      maxDurationMs: 10_000,
      caller: [{ afterAgentSilenceMs: 500, say: 'Hello there' }, { hangup: true }],
    });
    const result = await call.done;
    const says = result.timeline.find((e) => e.who === 'caller' && e.what === 'says "Hello there"');
    expect(says).toBeDefined();
    // Measured on the call's media clock, where the caller heard the agent: wall-clock time
    // between two events stretches or shrinks when a loaded machine delays and then catches up ticks.
    const agent = audibleSpan(result.heard, 0, (says!.tickMs / 20) * 160);
    expect(agent).toBeDefined();
    expect(agent!.last - agent!.first).toBeGreaterThan(590 * 8); // the whole 600 ms tone was heard first
    const agentLastTickMs = (Math.floor(agent!.last / 160) + 1) * 20;
    expect(says!.tickMs - agentLastTickMs).toBeGreaterThanOrEqual(500);
    expect(says!.tickMs - agentLastTickMs).toBeLessThan(5000); // a hang guard: it did speak, soon after
    // and what the caller said reached the stream after that
    const sock = standIn.sockets[0]!;
    const firstLoud = sock.messages.findIndex(
      (m) => m.event === 'media' && Buffer.from(m.media.payload, 'base64').some((b: number) => (b & 0x7f) < 0x40),
    );
    expect(firstLoud).toBeGreaterThan(0);
    expect(result.endedBy).toBe('caller');
  });

  it('runs its 20 ms clock as fast as possible when realtime is false', async () => {
    const { sim } = await setup({
      '/twilio/voice': '<Response><Pause length="3"/><Play digits="42"/><Hangup/></Response>',
    });
    const t0 = Date.now();
    const result = await sim.placeCall({ to: '+1', from: '+2', maxDurationMs: 30_000, realtime: false }).done;
    expect(Date.now() - t0).toBeLessThan(2500);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.heard.length).toBeGreaterThan(3 * 8000);
    const { detectDtmf } = await import('../../src/audio/index.js');
    expect(
      detectDtmf(result.heard, 8000)
        .map((h) => h.digit)
        .join(''),
    ).toBe('42');
  });
});
