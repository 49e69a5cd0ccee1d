import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeServerMessage } from '../../src/omni/framing.js';
import { formantSynthesize } from '../../src/speech/formant-synth.js';
import { resampleWhole } from '../../src/sim/engine/render.js';
import { ScenarioError, loadScenario, parseScenario } from '../../src/sim/engine/scenario.js';
import { parsePacing, planChunks, type PlannedChunk } from '../../src/sim/engine/pacing.js';
import { AgentSpeaker, spokenPortion } from '../../src/sim/engine/speaker.js';
import { EnergyVad, type VadEdge } from '../../src/sim/engine/vad.js';
import { fillTemplate } from '../../src/sim/engine/waits.js';
import { synthesize, ttsBackend } from '../../src/speech/tts.js';
import { at } from '../helpers/checked.js';
import { sleep } from './engine-helpers.js';

function noise(n: number, peak: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round((Math.random() * 2 - 1) * peak);
  return out;
}
function rms(x: Int16Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

describe('EnergyVad', () => {
  function run(chunks: [ms: number, peak: number][], rate = 8000): VadEdge[] {
    const edges: VadEdge[] = [];
    const vad = new EnergyVad(rate, (e) => edges.push(e));
    for (const [ms, peak] of chunks) {
      for (let t = 0; t < ms; t += 20) vad.push(noise(rate / 50, peak));
    }
    return edges;
  }

  it('starts after ~60 ms of speech and ends after ~600 ms of silence', () => {
    const edges = run([
      [200, 0],
      [40, 8000],
    ]);
    expect(edges).toEqual([]);
    const full = run([
      [200, 0],
      [1000, 8000],
      [580, 0],
    ]);
    expect(full.map((e) => e.kind)).toEqual(['speech_start']);
    const ended = run([
      [200, 0],
      [1000, 8000],
      [620, 0],
    ]);
    expect(ended.map((e) => e.kind)).toEqual(['speech_start', 'speech_end']);
    const end = ended[1] as Extract<VadEdge, { kind: 'speech_end' }>;
    expect(end.speechMs).toBeGreaterThanOrEqual(980);
    expect(end.speechMs).toBeLessThanOrEqual(1020);
  });

  it('adapts to a noisy line: steady hiss above the absolute floor is not speech', () => {
    // 1200 peak white noise ≈ 700 RMS: over the 500 minimum, but it is the line, not a talker
    expect(run([[2000, 1200]])).toEqual([]);
    const talk = run([
      [1000, 1200],
      [300, 12000],
    ]);
    expect(talk.map((e) => e.kind)).toEqual(['speech_start']);
  });

  it('lets go of a loud stationary noise instead of hearing speech forever', () => {
    const edges = run([
      [200, 0],
      [4000, 8000],
    ]);
    expect(edges.map((e) => e.kind)).toEqual(['speech_start', 'speech_end']);
  });

  it('is independent of chunk size', () => {
    const edges: VadEdge[] = [];
    const vad = new EnergyVad(16000, (e) => edges.push(e));
    vad.push(new Int16Array(16000 * 0.2));
    vad.push(noise(16000 * 0.5, 8000)); // one 500 ms chunk
    vad.push(new Int16Array(16000 * 0.7));
    expect(edges.map((e) => e.kind)).toEqual(['speech_start', 'speech_end']);
  });
});

describe('pacing profiles', () => {
  it("plans chunks that cover the utterance byte for byte, in order, at the profile's times", () => {
    const rate = 24000;
    const n = rate; // 1 s
    const covers = (plan: PlannedChunk[]) =>
      plan.every((c, i) => c.start === (i === 0 ? 0 : plan[i - 1]!.end)) && plan.at(-1)!.end === n * 2;
    const ref = planChunks(n, rate, parsePacing('chunks:150'));
    expect(covers(ref)).toBe(true);
    expect(ref.map((c) => Math.round(c.atMs))).toEqual([0, 150, 300, 450, 600, 750, 900]);
    expect(ref[0]!.end - ref[0]!.start).toBe(3600 * 2); // the reference server's 150 ms chunk
    const burst = planChunks(n, rate, parsePacing('burst'));
    expect(covers(burst) && burst.every((c) => c.atMs === 0)).toBe(true);
    const odd = planChunks(n, rate, parsePacing('chunks:20+odd'));
    expect(covers(odd)).toBe(true);
    expect(odd.slice(0, -1).every((c) => c.end % 2 === 1)).toBe(true); // every cut splits a sample
    const jitter = planChunks(n, rate, parsePacing('jitter:100:80'), () => 0.99);
    expect(covers(jitter) && jitter.every((c, i) => i === 0 || c.atMs >= jitter[i - 1]!.atMs)).toBe(true);
    const paused = planChunks(n, rate, parsePacing('chunks:100+pause:500:700'));
    expect(paused.find((c) => c.start === 12000 * 2)!.atMs).toBe(1200);
  });

  it('refuses a profile it does not know, naming what is wrong', () => {
    expect(() => parsePacing('chunky:150')).toThrow(/expected realtime, chunks:MS, burst or jitter/);
    expect(() => parsePacing('chunks:0')).toThrow(/chunk length must be a number from 1/);
    expect(() => parsePacing('burst+loud')).toThrow(/unknown modifier "\+loud"/);
  });
});

describe('AgentSpeaker', () => {
  it('paces frames at real time and stops at once on interrupt', async () => {
    const frames: Buffer[] = [];
    const speaker = new AgentSpeaker((f) => frames.push(f), 8000, {
      pacing: { chunkMs: 20, leadMs: 40, jitterMs: 0, oddBytes: false },
    });
    const t0 = performance.now();
    const done = speaker.play('one two three four', new Int16Array(8000)); // 1 s
    await sleep(200);
    const atCut = frames.length;
    const elapsed = performance.now() - t0;
    expect(atCut).toBeGreaterThanOrEqual(10); // ≥ 200 ms
    expect(atCut * 20).toBeLessThanOrEqual(elapsed + 40 + 20); // never more than real time + lead (+1 frame)
    expect(atCut).toBeLessThan(50); // not the whole second in one burst
    const cut = speaker.interrupt()!;
    expect(cut.interrupted).toBe(true);
    expect('one two three four'.startsWith(cut.spokenText)).toBe(true);
    expect(cut.spokenText.length).toBeLessThan('one two three four'.length);
    await sleep(60);
    expect(frames.length).toBe(atCut);
    expect((await done).interrupted).toBe(true);
    const msg = decodeServerMessage(at(frames, 0, 'frames'), true);
    expect(msg.kind === 'audio' && msg.pcm.length).toBe(160);
  });

  it('finishes when the audio has been heard', async () => {
    const speaker = new AgentSpeaker(() => {}, 16000);
    const t0 = performance.now();
    const r = await speaker.play('hi', new Int16Array(16000 * 0.15));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(r).toMatchObject({ interrupted: false, spokenText: 'hi' });
    expect(speaker.speaking).toBe(false);
  });

  it('cuts the spoken text on a word boundary', () => {
    expect(spokenPortion('Hello there, how are you', 0.5)).toBe('Hello there,');
    expect(spokenPortion('Hello', 0.99)).toBe('');
    expect(spokenPortion('a b', 1)).toBe('a b');
  });
});

describe('scenarios', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'scn-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads YAML and JSON files', async () => {
    await writeFile(
      join(dir, 's.yaml'),
      'name: demo\noutput_rate: 16000\nsteps:\n  - say: Hi\n  - wait_for_caller: true\n  - close: { code: 4429 }\n',
    );
    await writeFile(join(dir, 's.json'), JSON.stringify({ steps: [{ verb: 'send_dtmf', args: { digits: '12' } }] }));
    const y = await loadScenario(join(dir, 's.yaml'));
    expect(y).toMatchObject({ name: 'demo', output_rate: 16000, after: 'idle' });
    expect(y.steps).toHaveLength(3);
    const j = await loadScenario(join(dir, 's.json'));
    expect(j.steps[0]).toEqual({ verb: 'send_dtmf', args: { digits: '12' }, await_result: false });
  });

  it('names the step and field of every problem', () => {
    try {
      parseScenario(
        { steps: [{ say: 'ok' }, { tool_call: { name: 5 } }, { dance: true }, { close: { code: 1005 } }] },
        'x.yaml',
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ScenarioError);
      const m = (err as Error).message;
      expect(m).toMatch(/^x\.yaml: /);
      expect(m).toMatch(/steps\[1\]\.tool_call\.name/);
      expect(m).toMatch(/steps\[2\]: a step is an object with one of/);
      expect(m).toMatch(/steps\[3\]\.close\.code: a valid WebSocket close code/);
    }
    expect(() => parseScenario({ steps: [] })).toThrow(/at least one step/);
    expect(() => parseScenario({ steps: [{ say: 'a', wait_ms: 1 }] })).toThrow(/steps\[0\]/);
  });

  it('reports unreadable and malformed files with their path', async () => {
    await expect(loadScenario(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: cannot read \(ENOENT\)/);
    await writeFile(join(dir, 'bad.json'), '{ nope');
    await expect(loadScenario(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: not valid JSON/);
  });

  it('fills templates from nested fields', () => {
    expect(fillTemplate('{{a}} {{b.c}} {{ d }}', { a: 1, b: { c: 'x' } }, { d: true })).toBe('1 x true');
    expect(fillTemplate('{{missing}}', {})).toBe('unknown');
  });
});

describe('speech synthesis', () => {
  it('speaks real words with flite and caches them', async () => {
    const r = await synthesize('Your order has shipped and will arrive on Tuesday.');
    expect(ttsBackend()).toBe('flite');
    expect(r.rate).toBe(16000);
    expect(r.samples.length / r.rate).toBeGreaterThan(1.5);
    expect(r.samples.length / r.rate).toBeLessThan(5);
    expect(rms(r.samples)).toBeGreaterThan(300);
    expect(await synthesize('Your order has shipped and will arrive on Tuesday.')).toBe(r);
  }, 15_000);

  it('has a speech-shaped fallback that does not clip', () => {
    const r = formantSynthesize('Hello there. How are you?');
    expect(r.samples.length / r.rate).toBeGreaterThan(1);
    const level = rms(r.samples);
    expect(level).toBeGreaterThan(1000);
    expect(Math.max(...r.samples.map(Math.abs))).toBeLessThan(32767);
  });

  it('resamples a whole utterance to the output rate without losing its length or level', () => {
    const tone = new Int16Array(16000);
    for (let i = 0; i < tone.length; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000));
    for (const out of [8000, 24000]) {
      const r = resampleWhole(tone, 16000, out);
      expect(r.length).toBe(out);
      expect(rms(r.subarray(out * 0.1, out * 0.9))).toBeCloseTo(rms(tone), -2);
    }
  });
});
