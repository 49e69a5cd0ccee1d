import { afterEach, describe, expect, it } from 'vitest';
import { startOfflineEngine, type EngineOptions, type OfflineEngine } from '../../src/sim/engine/index.js';
import { at } from '../helpers/checked.js';
import { recordingClient, sleep, streamCaller, toneTts, waitUntil, type Recorded } from './engine-helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function engine(opts: EngineOptions = {}): Promise<OfflineEngine> {
  const e = await startOfflineEngine(opts);
  cleanups.push(() => e.close());
  return e;
}
function track(r: Recorded): Recorded {
  cleanups.push(() => r.client.end());
  return r;
}

describe('offline engine: handshake and greeting', () => {
  it('says hello, session_started and configured, then greets at its own output rate', async () => {
    const eng = await engine({ outputRate: 16000 });
    const r = track(recordingClient(eng.url, 24000));
    await r.client.connect();
    // real Flite: its first use compiles a 21 MB WebAssembly module, which is slow on a busy machine
    await waitUntil(() => r.audioMs() > 300, 10_000, 'greeting audio');
    const types = r.events().map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['hello', 'session_started', 'configured']);
    expect(r.events('hello')[0]).toMatchObject({ protocol: 2, audioIn: 24000, audioOutRate: 16000 });
    expect(r.events('configured')[0]).toMatchObject({ greeting: true, tools: 0, audioOutRate: 16000 });
    const audio = r.heard.filter((h) => h.kind === 'audio');
    expect(new Set(audio.map((h) => h.rate))).toEqual(new Set([16000]));
    expect(at(audio, 0, 'audio frames').samples).toBe(320); // 20 ms frames at 16 kHz
    expect(r.events('transcript')).toContainEqual({
      type: 'transcript',
      role: 'assistant',
      text: 'Hello, thanks for calling. How can I help you today?',
      final: true,
    });
    expect(at(eng.sessions, 0, 'sessions').config).toMatchObject({ type: 'configure', persona: 'Test agent.' });
    expect(at(eng.sessions, 0, 'sessions')).toMatchObject({
      inputRate: 24000,
      outputRate: 16000,
      sessionLabel: 'engine-test',
    });
    expect(eng.violations).toEqual([]);
  }, 15_000);

  it('streams agent audio at real time, not in one burst', async () => {
    const eng = await engine({ tts: toneTts });
    const r = track(recordingClient(eng.url, 8000));
    await r.client.connect();
    await waitUntil(() => r.audioMs() > 0, 2000, 'first audio');
    const first = r.heard.find((h) => h.kind === 'audio')!.at;
    await sleep(400);
    const ms = r.audioMs();
    const elapsed = performance.now() - first;
    // the greeting is ~3 s of audio; only what has been "played" so far plus the small lead may be here
    expect(ms).toBeGreaterThan(300);
    expect(ms).toBeLessThan(elapsed + 150);
    expect(ms).toBeLessThan(2500);
  });

  it('refuses a wrong key with 4401 and accepts the right one', async () => {
    const eng = await engine({ apiKey: 'sk-right-key', tts: toneTts });
    const bad = track(recordingClient(eng.url, 16000, { apiKey: 'sk-wrong-key' }));
    await bad.client.connect();
    await waitUntil(() => bad.closes.length > 0, 2000, 'close');
    expect(at(bad.closes, 0, 'closes')[0]).toBe(4401);
    const good = track(recordingClient(eng.url, 16000, { apiKey: 'sk-right-key' }));
    await good.client.connect();
    await waitUntil(() => good.events('configured').length > 0, 2000, 'configured');
    expect(good.closes).toEqual([]);
  });

  it('imitates a distant engine with connectDelayMs', async () => {
    const eng = await engine({ connectDelayMs: 150, tts: toneTts });
    const r = track(recordingClient(eng.url, 16000));
    const t0 = performance.now();
    await r.client.connect();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });
});

describe('offline engine: turn-taking', () => {
  it('stops speaking and sends flush within ~100 ms when the caller barges in', async () => {
    const eng = await engine({ tts: toneTts });
    const r = track(recordingClient(eng.url, 16000));
    await r.client.connect();
    const caller = streamCaller(r.client, 16000);
    cleanups.push(() => caller.stop());
    await waitUntil(() => r.audioMs() > 400, 3000, 'agent speaking');
    const noiseAt = performance.now();
    caller.setLevel(8000);
    await waitUntil(() => r.events('barge_in').length > 0, 1000, 'barge_in');
    const flush = r.heard.find((h) => h.event?.type === 'barge_in')!;
    expect(flush.at - noiseAt).toBeLessThan(200); // typically ~60 ms: the VAD's 60 ms speech onset
    await sleep(200);
    const afterFlush = r.heard.filter((h) => h.kind === 'audio' && h.at > flush.at);
    expect(afterFlush).toEqual([]);
    const interrupted = r.events('assistant_interrupted')[0];
    expect(interrupted).toBeDefined();
    expect(
      'Hello, thanks for calling. How can I help you today?'.startsWith((interrupted as { reply: string }).reply),
    ).toBe(true);
    expect(at(eng.sessions, 0, 'sessions').bargeIns).toBe(1);

    // The caller stops; after the end-of-turn silence the echo agent answers.
    await sleep(800);
    caller.setLevel(0);
    await waitUntil(
      () => r.events('transcript').some((e) => e.type === 'transcript' && /I heard you speak for/.test(e.text)),
      3000,
      'echo reply',
    );
    const user = r.events('transcript').find((e) => e.type === 'transcript' && e.role === 'user' && e.final);
    expect(user).toMatchObject({ text: expect.stringMatching(/^\(caller spoke \d+\.\d s\)$/) });
    expect(r.events('turn_begin').length).toBeGreaterThanOrEqual(2);
    expect(r.events('turn_begin').at(-1)).toMatchObject({ sinceCallerEndMs: expect.any(Number) });
  });

  it('ignores silence and a quiet line: no turn, no barge-in', async () => {
    const eng = await engine({ tts: toneTts });
    const r = track(recordingClient(eng.url, 8000));
    await r.client.connect();
    const caller = streamCaller(r.client, 8000);
    cleanups.push(() => caller.stop());
    caller.setLevel(150); // line hiss, well under speech
    await sleep(700);
    expect(r.events('barge_in')).toEqual([]);
    expect(at(eng.sessions, 0, 'sessions').audioMsReceived).toBeGreaterThan(500);
  });

  it('echoes DTMF and the echo agent answers it', async () => {
    const eng = await engine({ tts: toneTts });
    const r = track(recordingClient(eng.url, 16000, { configure: { persona: 'p' } }));
    await r.client.connect();
    await waitUntil(() => r.events('configured').length > 0, 2000, 'configured');
    expect(r.client.sendDtmf('5')).toBe(true);
    await waitUntil(() => r.events('transcript').length > 0, 2000, 'reply');
    expect(r.events('dtmf_echo')).toEqual([{ type: 'dtmf_echo', digit: '5' }]);
    expect(r.events('transcript')[0]).toMatchObject({ role: 'assistant', text: 'You pressed 5.' });
    expect(at(eng.sessions, 0, 'sessions').dtmf).toEqual(['5']);
  });
});

describe('offline engine: session end and loopback', () => {
  it('answers session_ending with session_end and a 1000 close', async () => {
    const eng = await engine({ tts: toneTts });
    const r = track(recordingClient(eng.url, 16000));
    await r.client.connect();
    await waitUntil(() => r.events('configured').length > 0, 2000, 'configured');
    r.client.end();
    await waitUntil(() => r.closes.length > 0, 2000, 'close');
    expect(at(r.closes, 0, 'closes')[0]).toBe(1000);
    expect(r.events('session_end')).toHaveLength(1);
    expect(at(eng.sessions, 0, 'sessions').closed).toMatchObject({ code: 1000, by: 'engine' });
    expect(eng.violations).toEqual([]);
  });

  it('loopback mode sends every caller frame straight back', async () => {
    const eng = await engine({ mode: 'loopback' });
    const r = track(recordingClient(eng.url, 24000));
    await r.client.connect();
    const frame = new Int16Array(480).fill(1234);
    for (let i = 0; i < 10; i++) r.client.sendAudio(frame);
    await waitUntil(() => r.audioMs() >= 200, 2000, 'loopback audio');
    expect(r.heard.filter((h) => h.kind === 'audio').every((h) => h.samples === 480 && h.rate === 24000)).toBe(true);
    expect(r.events('transcript')).toEqual([]);
  });

  it('loopback resamples when the output rate differs', async () => {
    const eng = await engine({ mode: 'loopback', outputRate: 8000 });
    const r = track(recordingClient(eng.url, 16000));
    await r.client.connect();
    for (let i = 0; i < 10; i++) r.client.sendAudio(new Int16Array(320));
    await waitUntil(() => r.audioMs() >= 150, 2000, 'loopback audio');
    expect(r.client.outputRate).toBe(8000);
  });
});
