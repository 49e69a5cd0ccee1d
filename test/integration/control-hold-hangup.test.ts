import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/stack.js';
import { AUTH_TOKEN } from '../helpers/harness.js';
import {
  ACCOUNT_SID,
  AGENT_NUMBER,
  CALLER_NUMBER,
  callPath,
  classifyFrames,
  runs,
  stackJanitor,
  startControlStack,
  voiceMs,
  voiceRuns,
  waitFor,
} from '../helpers/control.js';

const stacks = stackJanitor();
const servers: Server[] = [];
afterEach(async () => {
  await stacks.closeAll();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('play_hold', () => {
  it('plays hold audio for N seconds while caller audio keeps reaching the engine, then the agent resumes', async () => {
    const BACK = 'Thanks for holding.';
    const h = stacks.track(
      await startControlStack({
        steps: [
          { say: 'Please hold.' },
          { verb: 'play_hold', args: { seconds: 2 }, call_id: 'h1', await_result: true },
          { wait_ms: 2600 },
          { say: BACK },
          { wait_for_caller: true, timeout_ms: 20_000 },
        ],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    await waitFor(() => h.engine.sessions[0]?.toolResults.length === 1, 5000);
    const session = h.engine.sessions[0]!;
    const ms0 = session.audioMsReceived;
    await sleep(1500);
    const flowed = session.audioMsReceived - ms0;
    const silences = () => call.timeline.filter((e) => e.who === 'agent' && e.what === 'silent').length;
    await waitFor(() => session.transcripts.some((t) => t.text === BACK), 10_000);
    // the agent goes quiet after saying BACK (counted from when it began), so the caller heard it whole
    const before = silences();
    await waitFor(() => silences() > before && call.timeline.at(-1)?.what !== 'speaking', 10_000);
    call.hangup();
    const result = await call.done;

    expect(session.toolResults).toEqual([
      { callId: 'h1', name: 'play_hold', output: { status: 'holding', seconds: 2 } },
    ]);
    // caller audio keeps reaching the engine while on hold (~1500 ms of it; a loaded machine
    // delays some, so only a floor that a stopped stream could not reach)
    expect(flowed).toBeGreaterThan(600);
    // What the caller heard: words, ~2 s of hold music (audible, not the agent), quiet, words again.
    const heard = runs(classifyFrames(result.heard), 100).filter(
      (r) => r.kind !== 'silent' || r.endMs - r.startMs > 200,
    );
    const kinds = heard.map((r) => r.kind);
    const first = kinds.indexOf('voice');
    expect(kinds.slice(first, first + 4)).toEqual(['voice', 'other', 'silent', 'voice']);
    const hold = heard[first + 1]!;
    expect(hold.endMs - hold.startMs).toBeGreaterThan(1800);
    expect(hold.endMs - hold.startMs).toBeLessThan(2300);
    expect(heard[first + 3]!.endMs - heard[first + 3]!.startMs).toBeGreaterThanOrEqual(voiceMs(BACK) - 40);
  });

  it('hold without a duration stops when the agent speaks again (fading out, not cut)', async () => {
    const BACK = 'I found it.';
    const h = stacks.track(
      await startControlStack({
        steps: [
          { verb: 'play_hold', args: {} },
          { wait_ms: 1200 },
          { say: BACK },
          { wait_for_caller: true, timeout_ms: 20_000 },
        ],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    await waitFor(() => h.engine.sessions[0]?.transcripts.some((t) => t.text === BACK) === true, 5000);
    await sleep(voiceMs(BACK) + 600);
    call.hangup();
    const result = await call.done;
    const heard = runs(classifyFrames(result.heard), 60);
    const voiceAt = heard.findIndex((r) => r.kind === 'voice');
    expect(heard[voiceAt - 1]!.kind).toBe('other'); // hold music right up to the agent's words
    expect(heard[voiceAt - 1]!.endMs - heard[voiceAt - 1]!.startMs).toBeGreaterThan(900);
    expect(heard.slice(voiceAt + 1).some((r) => r.kind === 'other')).toBe(false); // and never after
    // the last 20 ms of hold before the words is the fade: quieter than the music before it
    const at = heard[voiceAt]!.startMs * 8;
    const peak = (from: number, to: number) =>
      result.heard.subarray(from, to).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(peak(at - 160, at)).toBeLessThan(peak(at - 2400, at - 800));
  });
});

describe('end_call', () => {
  const GOODBYE = 'Thank you for calling, have a lovely day, goodbye.';

  it('hangs up with Status=completed once, after the goodbye was fully heard, then closes the engine session', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [
          // the verb arrives while the goodbye is still being spoken
          { say: GOODBYE, no_wait: true },
          { wait_ms: 300 },
          { verb: 'end_call', args: { reason: 'resolved' }, call_id: 'e1' },
        ],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    let engineClosedAtRest: unknown = 'not yet';
    call.on('timeline', (e) => {
      if (e.what === 'REST update: Status=completed') engineClosedAtRest = h.engine.sessions[0]?.closed;
    });
    const result = await call.done;
    await waitFor(() => h.records.length === 1);
    await sleep(300);

    expect(h.sim.restRequests).toHaveLength(1); // exactly once
    expect(h.sim.restRequests[0]).toMatchObject({
      method: 'POST',
      path: callPath(call.callSid),
      authOk: true,
      status: 200,
    });
    expect(h.sim.restRequests[0]!.form).toEqual({ Status: 'completed' });
    expect(result.endedBy).toBe('rest-completed');
    const rest = result.timeline.find((e) => e.what === 'REST update: Status=completed')!;
    const voice = voiceRuns(result.heard);
    // one run, unless the playback counted an underrun (a late engine frame under load leaves a gap)
    if (h.records[0]!.playback.underruns === 0) expect(voice).toHaveLength(1);
    const heardMs = voice.reduce((ms, r) => ms + r.endMs - r.startMs, 0);
    expect(heardMs).toBeGreaterThanOrEqual(voiceMs(GOODBYE) - 40); // not cut
    expect(voice.at(-1)!.endMs).toBeLessThanOrEqual(rest.atMs + 20);
    expect(engineClosedAtRest).toBeUndefined(); // the engine session outlived the REST request
    const session = h.engine.sessions[0]!;
    expect(session.toolResults).toEqual([{ callId: 'e1', name: 'end_call', output: { status: 'ending' } }]);
    expect(session.closed).toMatchObject({ code: 1000 });
    expect(h.records[0]).toMatchObject({ outcome: 'agent_hangup' });
    expect(result.violations).toEqual([]);
  });

  it('when the caller already hung up, the REST hang-up meets 404/20404: counted as ended, nothing crashes', async () => {
    const h = stacks.track(
      await startControlStack({
        steps: [{ say: GOODBYE, no_wait: true }, { wait_ms: 300 }, { verb: 'end_call', call_id: 'e1' }],
      }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    await waitFor(() => h.engine.sessions[0]?.eventsSent.some((e) => e.event === 'end_call') === true, 5000);
    await sleep(300);
    call.hangup(); // mid-goodbye
    const result = await call.done;
    await waitFor(() => h.records.length === 1);
    await waitFor(() => h.sim.restRequests.length === 1, 3000);
    await sleep(200);

    expect(result.endedBy).toBe('caller');
    expect(h.sim.restRequests).toHaveLength(1);
    expect(h.sim.restRequests[0]).toMatchObject({
      path: callPath(call.callSid),
      form: { Status: 'completed' },
      status: 404,
    });
    expect(h.records[0]).toMatchObject({ outcome: 'caller_hangup' });
    expect(h.logs.find('hang-up: call already ended')).toHaveLength(1);
    expect(h.logs.find('REST hang-up failed')).toEqual([]);
    expect(h.logs.find(/failed|error/i).filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(h.bridge.ctx.registry.size).toBe(0);
  });
});

/** A stand-in for api.twilio.com that refuses every request the way Twilio does (JSON error). */
async function refusingTwilio(): Promise<{ base: string; requests: { path: string; auth: string; body: string }[] }> {
  const requests: { path: string; auth: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', auth: req.headers.authorization ?? '', body });
      res.writeHead(400, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(
        JSON.stringify({
          code: 13227,
          message: 'No international permissions for this call',
          more_info: 'https://www.twilio.com/docs/errors/13227',
          status: 400,
        }),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

describe('Twilio refusing call control', () => {
  const steps = [
    { verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'x1', await_result: true },
    { verb: 'send_dtmf', args: { digits: '12' }, call_id: 'd1', await_result: true },
    { say: 'Sorry, that did not work.' },
    { verb: 'end_call', call_id: 'e1', await_result: true },
  ];

  it.each([
    ['answers HTTP 400 with a Twilio error', 'No international permissions for this call'],
    ['cannot be reached', 'ECONNREFUSED'],
  ])('Twilio %s: structured error tool_results, the call goes on and still ends cleanly', async (kind, message) => {
    const refusing = kind.startsWith('answers') ? await refusingTwilio() : undefined;
    const base = refusing?.base ?? `http://127.0.0.1:${await freePort()}`;
    const h = stacks.track(
      await startControlStack({ agent: { send_dtmf_mode: 'play_digits' }, steps, env: { TWILIO_API_BASE: base } }),
    );
    const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 10_000 });
    const result = await call.done;
    await waitFor(() => h.records.length === 1);

    const session = h.engine.sessions[0]!;
    expect(session.toolResults).toEqual([
      { callId: 'x1', name: 'transfer_to_human', output: { error: `transfer_failed: ${message}` } },
      { callId: 'd1', name: 'send_dtmf', output: { error: `send_dtmf_failed: ${message}` } },
      { callId: 'e1', name: 'end_call', output: { status: 'ending' } },
    ]);
    // The words after the failures were heard: the call went on, on its first and only stream.
    expect(voiceRuns(result.heard)).toHaveLength(1);
    expect(result.streams).toHaveLength(1);
    // The REST hang-up failed too: the bridge released the stream and the after-stream TwiML hung up.
    expect(result.endedBy).toBe('bridge-hangup');
    expect(h.records[0]).toMatchObject({ outcome: 'agent_hangup' });
    expect(h.records[0]!.verbs.map((v) => `${v.verb}:${v.result}`)).toEqual(
      expect.arrayContaining(['transfer_to_human:rest_error', 'send_dtmf:rest_error', 'end_call:hanging_up']),
    );
    expect(h.logs.find('REST hang-up failed')).toHaveLength(1);
    if (refusing) {
      // every request was still made in Twilio's form
      expect(refusing.requests.map((r) => r.path)).toEqual([
        callPath(call.callSid),
        callPath(call.callSid),
        callPath(call.callSid),
      ]);
      const basic = `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}`;
      expect(refusing.requests.every((r) => r.auth === basic)).toBe(true);
      const forms = refusing.requests.map((r) => [...new URLSearchParams(r.body).keys()]);
      expect(forms).toEqual([['Twiml'], ['Twiml'], ['Status']]);
    }
    expect(h.sim.restRequests).toEqual([]);
    expect(result.violations).toEqual([]);
  });
});
