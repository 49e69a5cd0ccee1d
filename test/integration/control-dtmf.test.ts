import { afterEach, describe, expect, it } from 'vitest';
import { detectDtmf } from '../../src/audio/index.js';
import {
  AGENT_NUMBER,
  CALLER_NUMBER,
  FRONT_DESK,
  callPath,
  child,
  levelDbm0,
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

const gaps = (hits: { startMs: number; endMs: number }[]) => hits.slice(1).map((h, i) => h.startMs - hits[i]!.endMs);

describe('send_dtmf', () => {
  it('in-band: the caller hears every digit at the right timing and level, after the words already queued', async () => {
    const SAY = 'Dialing the extension.';
    const h = stacks.track(
      await startControlStack({
        steps: [{ say: SAY }, { verb: 'send_dtmf', args: { digits: '12w#9' }, call_id: 'd1', await_result: true }],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 8000 });
    await waitFor(() => h.engine.sessions[0]?.toolResults.length === 1, 6000);
    call.hangup();
    const result = await call.done;

    const hits = detectDtmf(result.heard, 8000);
    expect(hits.map((x) => x.digit).join('')).toBe('12#9');
    for (const x of hits) expect(x.endMs - x.startMs).toBeGreaterThanOrEqual(70);
    const [g1, pause, g3] = gaps(hits);
    expect(g1).toBeGreaterThanOrEqual(50);
    expect(g3).toBeGreaterThanOrEqual(50);
    // `w` is a 500 ms pause on top of the usual gap after a tone
    expect(pause! - g1!).toBeGreaterThan(450);
    expect(pause! - g1!).toBeLessThan(550);
    // Q.23 pairs at about −9 dBm0 (low group) and −7 dBm0 (high group): "1" is 697 + 1209 Hz
    const one = hits[0]!;
    expect(levelDbm0(result.heard, one.startMs + 10, one.endMs - 10, 697)).toBeCloseTo(-9, 0);
    expect(levelDbm0(result.heard, one.startMs + 10, one.endMs - 10, 1209)).toBeCloseTo(-7, 0);

    // The agent's words were heard in full, and the tones only after them.
    const voice = voiceRuns(result.heard);
    expect(voice).toHaveLength(1);
    expect(voice[0]!.endMs - voice[0]!.startMs).toBeGreaterThanOrEqual(voiceMs(SAY) - 40);
    expect(hits[0]!.startMs).toBeGreaterThanOrEqual(voice[0]!.endMs - 20);

    expect(h.engine.sessions[0]!.toolResults).toEqual([
      { callId: 'd1', name: 'send_dtmf', output: { status: 'sent', digits: '12w#9' } },
    ]);
    expect(h.sim.restRequests).toEqual([]); // in-band needs no REST call
    expect(result.streams).toHaveLength(1);
  });

  it('play_digits: REST <Play digits> + <Connect><Stream>, a new stream joins the SAME engine session', async () => {
    const BACK = 'I am back.';
    const h = stacks.track(
      await startControlStack({
        agent: { send_dtmf_mode: 'play_digits' },
        steps: [
          { say: 'Sending the digits.' },
          { verb: 'send_dtmf', args: { digits: '1234' }, call_id: 'd1', await_result: true },
          { say: BACK },
          { wait_for_caller: true, timeout_ms: 20_000 },
        ],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    await waitFor(
      () => call.timeline.filter((e) => e.who === 'twilio' && /^stream MZ\w+ started$/.test(e.what)).length === 2,
      6000,
    );
    const session = h.engine.sessions[0]!;
    const msAtRestart = session.audioMsReceived;
    await waitFor(() => h.engine.sessions[0]!.transcripts.some((t) => t.text === BACK), 5000);
    await waitFor(() => call.timeline.filter((e) => e.who === 'agent' && e.what === 'silent').length >= 2, 5000);
    call.hangup();
    const result = await call.done;
    await waitFor(() => h.records.length === 1);

    expect(h.sim.restRequests).toHaveLength(1);
    const req = h.sim.restRequests[0]!;
    expect(req).toMatchObject({ method: 'POST', path: callPath(call.callSid), authOk: true, status: 200 });
    expect(Object.keys(req.form)).toEqual(['Twiml']);
    const doc = restTwiml(req);
    expect(doc.children.map((c) => c.name)).toEqual(['Play', 'Connect']);
    expect(doc.children[0]!.attrs.digits).toBe('1234');
    const stream = child(child(doc, 'Connect'), 'Stream');
    expect(stream.attrs.url).toBe(`wss://${new URL(h.bridgeUrl).host}/twilio/media`);
    const params = Object.fromEntries(stream.children.map((p) => [p.attrs.name, p.attrs.value]));
    // Only the stream token: agent, From and To travel inside it, and it is marked a restart.
    expect(Object.keys(params)).toEqual(['token']);
    expect(openToken(params.token, call.callSid)).toMatchObject({
      purpose: 'restart',
      agent: 'support',
      from: CALLER_NUMBER,
      to: AGENT_NUMBER,
    });

    // A second stream with its own StreamSid, on the same engine session: one configure, no greeting again.
    expect(result.streams).toHaveLength(2);
    expect(result.streams[1]!.streamSid).not.toBe(result.streams[0]!.streamSid);
    expect(result.streams[0]!.endedBy).toBe('stop');
    expect(h.engine.sessions).toHaveLength(1);
    expect(session.configureCount).toBe(1);
    expect(session.toolResults).toEqual([
      { callId: 'd1', name: 'send_dtmf', output: { status: 'sent', digits: '1234', mode: 'play_digits' } },
    ]);
    expect(session.audioMsReceived).toBeGreaterThan(msAtRestart + 200); // the new stream's caller audio reaches it
    expect(h.records).toHaveLength(1);
    expect(h.records[0]!.streams).toEqual(result.streams.map((s) => s.streamSid));

    // The caller heard the digits (played by Twilio between the streams), then the agent again.
    const hits = detectDtmf(result.heard, 8000);
    expect(hits.map((x) => x.digit).join('')).toBe('1234');
    const voice = voiceRuns(result.heard);
    expect(voice).toHaveLength(2);
    expect(voice[1]!.startMs).toBeGreaterThan(hits.at(-1)!.endMs);
    expect(voice[1]!.endMs - voice[1]!.startMs).toBeGreaterThanOrEqual(voiceMs(BACK) - 40);
    expect(result.violations).toEqual([]);
    expect(h.engine.violations).toEqual([]);
  });
});

describe('caller DTMF: collect and shortcuts', () => {
  it('collect ends on the finish key, on the digit count and on the inter-digit timeout; every digit still reaches the engine', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [
          {
            verb: 'collect',
            args: { field: 'account', kind: 'dtmf', timeout_ms: 3000 },
            call_id: 'c1',
            await_result: true,
          },
          { verb: 'collect', args: { field: 'pin', kind: 'dtmf', num_digits: 4 }, call_id: 'c2', await_result: true },
          { verb: 'collect', args: { field: 'zip', kind: 'dtmf', timeout_ms: 600 }, call_id: 'c3', await_result: true },
        ],
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 10_000,
      caller: [
        { atMs: 600, dtmf: '123#' },
        { silenceMs: 300, dtmf: '9876' },
        { silenceMs: 300, dtmf: '55' },
      ],
    });
    await waitFor(() => h.engine.sessions[0]?.toolResults.length === 3, 6000);
    call.hangup();
    await call.done;
    await waitFor(() => h.records.length === 1);
    const session = h.engine.sessions[0]!;
    expect(session.toolResults).toEqual([
      { callId: 'c1', name: 'collect', output: { field: 'account', value: '123', reason: 'finish_key' } },
      { callId: 'c2', name: 'collect', output: { field: 'pin', value: '9876', reason: 'num_digits' } },
      { callId: 'c3', name: 'collect', output: { field: 'zip', value: '55', reason: 'timeout' } },
    ]);
    expect(session.dtmf.join('')).toBe('123#987655');
    expect(h.records[0]!.dtmf).toBe('123#987655');
    // the log line counts digits, never prints them (customer data)
    const logged = h.logs.find('verb collect: num_digits')[0]!;
    expect(logged).toMatchObject({ field: 'pin', digits: 4 });
    expect(h.logs.text()).not.toContain('9876');
  });

  it('the "0" shortcut transfers the caller to the default human target, without the engine', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: { dtmf_shortcuts: { '0': 'transfer' } },
        steps: [{ say: 'Hi.' }, { wait_for_caller: true, timeout_ms: 20_000 }],
        human: { answer: 'answer', ringMs: 200, talkMs: 300 },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 8000,
      caller: [{ afterAgentSilenceMs: 200, dtmf: '0' }],
    });
    const result = await call.done;
    await waitFor(() => h.records.length === 1);
    expect(h.sim.restRequests).toHaveLength(1);
    const req = h.sim.restRequests[0]!;
    expect(req).toMatchObject({ path: callPath(call.callSid), authOk: true, status: 200 });
    expect(child(child(restTwiml(req), 'Dial'), 'Number').text).toBe(FRONT_DESK);
    expect(result.dialed).toEqual([{ target: `number:${FRONT_DESK}`, result: 'completed' }]);
    expect(h.engine.sessions[0]!.dtmf).toEqual([]); // the bridge took the key itself
    expect(h.records[0]).toMatchObject({ outcome: 'transferred', dtmf: '0' });
    expect(h.records[0]!.verbs).toContainEqual(expect.objectContaining({ verb: 'shortcut_0', result: 'transfer' }));
  });

  it('the shortcut is ignored while a collect is running (an account number may contain 0), and works again after', async () => {
    const h = stacks.track(
      await startControlStack({
        agent: { dtmf_shortcuts: { '0': 'transfer' } },
        steps: [
          {
            verb: 'collect',
            args: { field: 'account', kind: 'dtmf', num_digits: 3 },
            call_id: 'c1',
            await_result: true,
          },
          { wait_for_caller: true, timeout_ms: 20_000 },
        ],
        human: { answer: 'answer', ringMs: 200, talkMs: 300 },
      }),
    );
    const call = h.sim.placeCall({
      to: AGENT_NUMBER,
      from: CALLER_NUMBER,
      maxDurationMs: 8000,
      caller: [
        { atMs: 600, dtmf: '101' },
        { silenceMs: 500, dtmf: '0' },
      ],
    });
    await waitFor(() => h.engine.sessions[0]?.toolResults.length === 1, 5000);
    expect(h.sim.restRequests).toEqual([]);
    expect(h.engine.sessions[0]!.toolResults[0]).toEqual({
      callId: 'c1',
      name: 'collect',
      output: { field: 'account', value: '101', reason: 'num_digits' },
    });
    const result = await call.done;
    expect(h.engine.sessions[0]!.dtmf.join('')).toBe('101');
    expect(h.sim.restRequests).toHaveLength(1);
    expect(child(child(restTwiml(h.sim.restRequests[0]!), 'Dial'), 'Number').text).toBe(FRONT_DESK);
    expect(result.dialed).toEqual([{ target: `number:${FRONT_DESK}`, result: 'completed' }]);
  });
});
