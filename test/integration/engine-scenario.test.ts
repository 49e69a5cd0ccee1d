import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encodeAudioFrame } from '../../src/omni/framing.js';
import type { OmniEvent } from '../../src/omni/events.js';
import {
  parseScenario,
  startOfflineEngine,
  type EngineOptions,
  type OfflineEngine,
} from '../../src/sim/engine/index.js';
import { at } from '../helpers/checked.js';
import { recordingClient, sleep, streamCaller, toneTts, waitUntil, type Recorded } from './engine-helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function engine(opts: EngineOptions): Promise<OfflineEngine> {
  const e = await startOfflineEngine({ tts: toneTts, ...opts });
  cleanups.push(() => e.close());
  return e;
}
async function connected(eng: OfflineEngine, greeting?: string): Promise<Recorded> {
  const r = recordingClient(eng.url, 16000, { configure: { persona: 'p', ...(greeting ? { greeting } : {}) } });
  cleanups.push(() => r.client.end());
  await r.client.connect();
  return r;
}
const said = (r: Recorded): string[] =>
  r
    .events('transcript')
    .filter((e): e is Extract<OmniEvent, { type: 'transcript' }> => e.type === 'transcript' && e.role === 'assistant')
    .map((e) => e.text);

describe('scripted engine: tools and verbs', () => {
  it('runs a tool_call round trip and speaks the say_template filled from the result', async () => {
    const scenario = parseScenario({
      steps: [
        {
          tool_call: {
            name: 'order_status',
            arguments: { order_id: '42' },
            say_template: 'Your order {{status}}, arriving {{eta.day}}.',
          },
        },
      ],
    });
    const eng = await engine({ scenario });
    const r = await connected(eng);
    r.client.on('event', (ev) => {
      if (ev.type === 'tool_call')
        r.client.sendToolResult(ev.callId, ev.name, { status: 'has shipped', eta: { day: 'Tuesday' } });
    });
    await waitUntil(() => said(r).length > 0, 3000, 'templated reply');
    expect(r.events('tool_call')[0]).toMatchObject({
      name: 'order_status',
      arguments: { order_id: '42' },
      callId: expect.any(String),
    });
    expect(said(r)).toEqual(['Your order has shipped, arriving Tuesday.']);
    expect(at(eng.sessions, 0, 'sessions').toolResults).toHaveLength(1);
    expect(eng.violations).toEqual([]);
  });

  it('records a violation when the tool result never comes', async () => {
    const scenario = parseScenario({
      steps: [{ tool_call: { name: 'slow', timeout_ms: 100, say_template: '{{x}}' } }],
    });
    const eng = await engine({ scenario });
    const r = await connected(eng);
    await waitUntil(() => said(r).length > 0, 2000, 'apology');
    expect(said(r)[0]).toMatch(/could not get that information/);
    expect(eng.violations[0]).toMatch(/no tool_result for call_id tool_1 within 100 ms/);
  });

  it('sends engine verbs with spread arguments and awaits the outcome when asked', async () => {
    const scenario = parseScenario({
      steps: [
        {
          verb: 'transfer_to_human',
          args: { destination: 'billing', reason: 'asked' },
          call_id: 'xfer-1',
          await_result: true,
        },
        { say: 'Outcome {{result.status}}.' },
        { verb: 'end_call', args: { reason: 'done' } },
      ],
    });
    const eng = await engine({ scenario });
    const r = await connected(eng);
    r.client.on('event', (ev) => {
      if (ev.type === 'transfer_to_human' && ev.callId)
        r.client.sendToolResult(ev.callId, 'transfer_to_human', { status: 'transferring' });
    });
    await waitUntil(() => r.events('end_call').length > 0, 3000, 'end_call');
    expect(r.events('transfer_to_human')[0]).toMatchObject({
      destination: 'billing',
      reason: 'asked',
      callId: 'xfer-1',
    });
    expect(said(r)).toEqual(['Outcome transferring.']);
    expect(r.events('end_call')[0]).toEqual({ type: 'end_call', reason: 'done', callId: undefined });
  });

  it('sends error and warning events and goes on', async () => {
    const scenario = parseScenario({
      steps: [
        { warning: { code: 'slow_kb', message: 'KB slow' } },
        { error: { code: 500, message: 'oops' } },
        { say: 'Still here.' },
      ],
    });
    const eng = await engine({ scenario });
    const r = await connected(eng);
    await waitUntil(() => said(r).length > 0, 2000, 'say');
    expect(r.events('warning')).toEqual([{ type: 'warning', code: 'slow_kb', message: 'KB slow' }]);
    expect(r.events('error')).toEqual([{ type: 'error', code: '500', message: 'oops' }]);
  });
});

describe('scripted engine: caller input', () => {
  it('waits for the caller turn and reports the expected line, then collects digits', async () => {
    const scenario = parseScenario({
      steps: [
        { wait_for_caller: true, expect: 'I want my balance' },
        { say: 'Enter your PIN.' },
        { wait_for_dtmf: { count: 4, until: '#', timeout_ms: 3000 } },
        { say: 'Got {{digits}}.' },
      ],
    });
    const eng = await engine({ scenario, vad: { endSilenceMs: 300 } });
    const r = await connected(eng);
    const caller = streamCaller(r.client, 16000);
    cleanups.push(() => caller.stop());
    await sleep(100);
    caller.setLevel(8000);
    await sleep(300);
    caller.setLevel(0);
    await waitUntil(() => said(r).includes('Enter your PIN.'), 3000, 'PIN prompt');
    expect(r.events('transcript')).toContainEqual({
      type: 'transcript',
      role: 'user',
      text: 'I want my balance',
      final: true,
    });
    for (const d of ['1', '2', '#']) r.client.sendDtmf(d);
    await waitUntil(() => said(r).length >= 2, 3000, 'digits reply');
    expect(said(r)[1]).toBe('Got 12.');
  });
});

describe('scripted engine: close codes on demand', () => {
  it.each([1000, 1008, 4401, 4403, 4429, 1011, 1006])('closes with %i', async (code) => {
    const eng = await engine({
      scenario: parseScenario({ steps: [{ wait_ms: 20 }, { close: { code, reason: `by script` } }] }),
    });
    const r = await connected(eng);
    await waitUntil(() => r.closes.length > 0, 2000, 'close');
    expect(r.closes).toHaveLength(1);
    expect(at(r.closes, 0, 'closes')[0]).toBe(code);
  });
});

describe('offline engine: conformance checks', () => {
  it('records every protocol violation of a bad client', async () => {
    const eng = await engine({});
    const ws = new WebSocket(`${eng.url}/v1/omni?format=pcm16&rate=16000`);
    cleanups.push(() => ws.terminate());
    await new Promise((r) => ws.once('open', r));
    const control = (obj: unknown): Buffer => Buffer.concat([Buffer.from([0x03]), Buffer.from(JSON.stringify(obj))]);
    ws.send(encodeAudioFrame(new Int16Array(320))); // before configure
    ws.send(control({ type: 'configure', persona: 'p' }));
    ws.send(control({ type: 'configure', persona: 'p' }));
    ws.send(Buffer.from(new Int16Array(320).buffer)); // untagged audio
    ws.send(Buffer.from([0x01, 1, 2, 3])); // odd length
    ws.send(control({ event: 'dtmf', digit: '1' }));
    ws.send(control({ type: 'hangup' }));
    ws.send(Buffer.concat([Buffer.from([0x03]), Buffer.from('{oops')]));
    ws.send(control({ type: 'tool_result', call_id: 'nobody-asked', name: 'x', output: {} }));
    ws.send('{"type":"dtmf","digit":"1"}');
    await waitUntil(() => eng.violations.length >= 9, 2000, 'violations');
    const v = at(eng.sessions, 0, 'sessions').violations;
    expect(v).toEqual([
      'audio before configure',
      'more than one configure',
      'untagged audio or unknown tag 0x00',
      'audio frame with an odd number of bytes',
      'client frame keyed on "event" (dtmf); clients use "type"',
      'unknown frame type "hangup"',
      'invalid JSON in control frame',
      'tool_result for unknown call_id nobody-asked',
      'text message (clients send tagged binary frames)',
    ]);
    expect(at(eng.sessions, 0, 'sessions').configureCount).toBe(2);
  });

  it('closes 1008 on an unsupported rate', async () => {
    const eng = await engine({});
    const ws = new WebSocket(`${eng.url}/v1/omni?format=pcm16&rate=44100`);
    cleanups.push(() => ws.terminate());
    const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
    expect(code).toBe(1008);
    expect(eng.violations[0]).toMatch(/unsupported rate "44100"/);
  });

  it('a well-behaved OmniClient session has no violations', async () => {
    const eng = await engine({ scenario: parseScenario({ steps: [{ tool_call: { name: 't' } }, { say: 'ok' }] }) });
    const r = await connected(eng, 'Hi.');
    r.client.on('event', (ev) => {
      if (ev.type === 'tool_call') r.client.sendToolResult(ev.callId, ev.name, { ok: true });
    });
    const caller = streamCaller(r.client, 16000);
    cleanups.push(() => caller.stop());
    r.client.sendDtmf('9');
    await waitUntil(() => said(r).includes('ok'), 3000, 'script done');
    expect(eng.violations).toEqual([]);
  });
});
