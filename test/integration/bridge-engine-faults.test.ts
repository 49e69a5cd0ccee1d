/**
 * Faults on the engine side: an engine that never answers (connect timeout → the
 * agent's fallback, no hang), one that sends garbage (ignored, counted, the call goes on), and
 * one that is slow to accept (caller audio held, bounded, and replayed in order).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMulaw } from '../../src/audio/index.js';
import { parseTwiml } from '../../src/sim/twilio/index.js';
import { audibleSpan, pitch, steps, tone, toneSequence } from '../helpers/audio.js';
import { CALLER, SUPPORT_NUMBER, janitor, sleep, startBridgeStack } from '../helpers/bridge-stack.js';
import { audioFrame, startHandEngine, startMuteEngine } from '../helpers/fake-engines.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { RawStream, sid } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

describe('bridge: an engine that never answers', () => {
  it('times the connect out, retries, then runs the fallback (polite message + hang-up) without hanging', async () => {
    const mute = j.track(await startMuteEngine());
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: mute.url } },
        bridge: { engine_connect_timeout_ms: 500 },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 15_000 });
    const result = await call.done;

    // 4 attempts of 500 ms with 100/600/1800 ms pauses (4.5 s), then the fallback: bounded, no hang
    expect(mute.connections).toBe(4);
    const fallbackAt = result.timeline.find((e) => e.what.startsWith('REST update'))!.atMs;
    expect(fallbackAt).toBeGreaterThan(4400);
    expect(fallbackAt).toBeLessThan(6000);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.violations).toEqual([]);
    const update = h.sim.restRequests.find((r) => r.method === 'POST' && typeof r.form.Twiml === 'string')!;
    const twiml = parseTwiml(String(update.form.Twiml));
    expect(twiml.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(JSON.stringify(twiml.children[0])).toContain('Technical difficulties');

    await waitFor(() => h.records.length === 1);
    expect(h.records[0]!.outcome).toBe('engine_lost');
    expect(h.records[0]!.verbs.map((v) => v.verb)).toContain('fallback');
    expect(await metricValue(h.bridge, 'bridge_engine_reconnects_total', { result: 'gave_up' })).toBe(1);
    expect(h.logs.find('engine connect failed').length).toBe(4);
    expect(h.logs.find('engine session lost')).toHaveLength(1);
    expect(h.bridge.ctx.registry.size).toBe(0);
  });
});

describe('bridge: an engine that sends garbage', () => {
  it('ignores and counts unknown tags and broken frames, and still plays the agent audio', async () => {
    const agentTone = tone(700, 600, 24000);
    const engine = j.track(
      await startHandEngine((s) => {
        s.ws.send(Buffer.from([0x07, 1, 2, 3]));
        s.ws.send(Buffer.alloc(0));
        s.ws.send(Buffer.from('\u0003{not json', 'utf8'));
        s.ws.send('plain text that is not JSON');
        s.ws.send(Buffer.from('\u0003[1,2,3]', 'utf8'));
        s.ws.send(Buffer.from([0x01]));
        s.ws.send(Buffer.from([0x01, 0, 0, 0])); // odd length: one sample, and a byte that waits for its other half
        s.ws.send(Buffer.from([0x01, 0])); // ...which comes in the next message: a sample split across two is not garbage
        s.event({ event: 'no_such_event', x: 1 }); // unknown events are not errors
        for (let i = 0; i < agentTone.length; i += 480) s.ws.send(audioFrame(agentTone.subarray(i, i + 480)));
      }),
    );
    const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url } } }));
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    call.on('stream-start', () => setTimeout(() => call.hangup(), 1200));
    const result = await call.done;

    expect(result.violations).toEqual([]);
    const span = audibleSpan(result.heard)!;
    expect((span.last - span.first) / 8).toBeGreaterThan(560);
    expect(pitch(result.heard, span.first, span.last, 8000)).toBeCloseTo(700, -1);
    const rejectedByEngine = await metricValue(h.bridge, 'bridge_rejected_messages_total', { source: 'engine' });
    expect(rejectedByEngine).toBe(6);
    const reasons = h.logs.find('engine message rejected').map((l) => String(l.reason));
    expect(reasons).toHaveLength(6);
    expect(reasons).toContain('unknown tag 0x07');
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]!.outcome).toBe('caller_hangup');
    expect(engine.sessions[0]!.control.at(-1)).toEqual({ type: 'session_ending' });
  });
});

describe('bridge: caller audio before the engine is ready', () => {
  const FREQS = [400, 600, 800, 1000, 1200, 1400, 1600, 1800, 2000, 2200];

  /** Streams 100 ms per tone of FREQS (1 s) from the `start`, then silence, on a raw socket. */
  async function callWithSteppedCaller(engineDelayMs: number, bridge: Record<string, unknown>) {
    const h = j.track(await startBridgeStack({ engine: { mode: 'loopback', connectDelayMs: engineDelayMs }, bridge }));
    const raw = j.track(await RawStream.open(h.target));
    const voice = steps(FREQS, 100, 8000);
    const mu = new Uint8Array(160);
    let frame = 0;
    raw.start(sid('CA'), { agent: 'support' });
    const stop = raw.pace(() => {
      const at = frame++ * 160;
      if (at >= voice.length) return mu.fill(0xff);
      encodeMulaw(voice.subarray(at, at + 160), mu);
      return mu;
    });
    j.track({ close: stop });
    return { h, raw };
  }

  it('holds it while the engine connects and replays it in order', async () => {
    const { h, raw } = await callWithSteppedCaller(400, { preconnect: { enabled: false } });
    // the loopback engine sends the caller's audio straight back: the caller hears all ten tones
    await waitFor(() => toneSequence(raw.audio(), 8000, FREQS).length === FREQS.length, 4000);
    expect(toneSequence(raw.audio(), 8000, FREQS)).toEqual(FREQS);
    const held = h.engine.sessions[0]!;
    expect(held.violations).toEqual([]);
    expect(await metricValue(h.bridge, 'bridge_frames_dropped_total', { direction: 'to_engine' })).toBe(0);
  });

  it('holds at most max_pending_caller_ms: the oldest audio is dropped and counted', async () => {
    const { h, raw } = await callWithSteppedCaller(800, { preconnect: { enabled: false }, max_pending_caller_ms: 200 });
    await waitFor(() => toneSequence(raw.audio(), 8000, FREQS).at(-1) === FREQS.at(-1), 4000);
    await sleep(100);
    const heard = toneSequence(raw.audio(), 8000, FREQS);
    // only the last ~200 ms before the engine was ready survive, then the live audio, in order
    expect(heard[0]).toBeGreaterThanOrEqual(FREQS[6]!);
    expect(heard).toEqual(FREQS.slice(FREQS.indexOf(heard[0]!)));
    const dropped = await metricValue(h.bridge, 'bridge_frames_dropped_total', {
      direction: 'to_engine',
      reason: 'engine_not_ready',
    });
    expect(dropped).toBeGreaterThanOrEqual(25); // ≈ (800 ms − 200 ms) / 20 ms
    expect(dropped).toBeLessThan(45);
  });
});
