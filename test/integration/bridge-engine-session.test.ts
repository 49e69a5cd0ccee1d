/**
 * The engine session's life as the caller experiences it: each close code gets its
 * policy (end, reconnect with context, fallback), and agent audio at an output rate different
 * from the input rate reaches the caller at the right pitch and length.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseTwiml } from '../../src/sim/twilio/index.js';
import { audibleMs, audibleSpan, firstFrameOf, pitch, toneSequence } from '../helpers/audio.js';
import {
  CALLER,
  FRONT_DESK,
  GREETING,
  OTHER_HZ,
  SUPPORT_NUMBER,
  VOICE_HZ,
  janitor,
  startBridgeStack,
  voiceMs,
} from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';

const j = janitor();
afterEach(() => j.closeAll());

/** The engine greets, waits a moment, then closes with `code`. */
const closeAfterGreeting = (code: number) => [{ wait_ms: 200 }, { close: { code, reason: `test close ${code}` } }];

describe('bridge: engine close codes', () => {
  it('1000: the engine ended normally: the greeting is played out, then the stream is released and the call hangs up', async () => {
    const h = j.track(await startBridgeStack({ steps: closeAfterGreeting(1000) }));
    const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;
    expect(result.violations).toEqual([]);
    expect(result.streams[0]!.endedBy).toBe('bridge-close');
    expect(result.endedBy).toBe('bridge-hangup'); // the <Hangup/> after <Connect>
    expect(Math.abs(audibleMs(result.heard, 8000) - voiceMs(GREETING.support))).toBeLessThan(20);
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ outcome: 'engine_ended', engineCloses: [1000] });
    expect(h.engine.sessions).toHaveLength(1);
    expect(await metricValue(h.bridge, 'bridge_engine_reconnects_total')).toBe(0);
  });

  it.each([1011, 4429])(
    '%i: the bridge reconnects with a fresh configure that tells the agent about the interruption',
    async (code) => {
      const h = j.track(await startBridgeStack({ steps: closeAfterGreeting(code) }));
      const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
      await waitFor(() => (h.engine.sessions[1]?.audioFramesReceived ?? 0) > 5, 5000);
      call.hangup();
      const result = await call.done;

      const [first, second] = h.engine.sessions;
      expect(first!.closed).toMatchObject({ code, by: 'engine' });
      expect(first!.config).toMatchObject({ greeting: GREETING.support });
      expect(second!.config!.persona).toEqual(expect.stringContaining('interrupted by a technical problem'));
      expect(second!.config!.greeting).toBeUndefined(); // no second "hello"
      expect(second!.sessionLabel).toBe(first!.sessionLabel);
      expect(result.streams).toHaveLength(1); // the caller's stream never noticed
      expect(result.endedBy).toBe('caller');
      expect(result.violations).toEqual([]);
      expect(await metricValue(h.bridge, 'bridge_engine_reconnects_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
      expect(await metricValue(h.bridge, 'bridge_engine_closes_total', { code: String(code) })).toBeGreaterThanOrEqual(
        1,
      );
      expect(h.logs.find('engine closed abnormally; reconnecting')[0]).toMatchObject({
        code,
        attempt: 1,
        callSid: call.callSid,
      });
      await waitFor(() => h.records.length === 1);
      expect(h.records[0]!.outcome).toBe('caller_hangup');
    },
  );

  it('4401 with a hang-up fallback: no retry; the caller hears the polite message, then the call is hung up', async () => {
    const h = j.track(await startBridgeStack({ steps: closeAfterGreeting(4401) }));
    const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;
    expect(h.engine.sessions).toHaveLength(1);
    const update = h.sim.restRequests.find((r) => typeof r.form.Twiml === 'string')!;
    const twiml = parseTwiml(String(update.form.Twiml));
    expect(twiml.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(JSON.stringify(twiml.children[0])).toContain('Technical difficulties');
    // the message is heard after the stream ended (Twilio speaks it), then the call is hung up
    const streamEnd = result.streams[0]!.endedAtMs!;
    expect(audibleMs(result.heard.subarray(streamEnd * 8), 8000)).toBeGreaterThan(500);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.violations).toEqual([]);
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ outcome: 'engine_refused', engineCloses: [4401] });
    expect(await metricValue(h.bridge, 'bridge_engine_reconnects_total')).toBe(0);
  });

  it("4401 with the shipped support agent's fallback (transfer): the caller is put through to the front desk", async () => {
    const h = j.track(
      await startBridgeStack({ steps: closeAfterGreeting(4401), support: { fallback: { action: 'transfer' } } }),
    );
    const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;
    expect(h.engine.sessions).toHaveLength(1);
    const update = h.sim.restRequests.find((r) => typeof r.form.Twiml === 'string')!;
    expect(String(update.form.Twiml)).toContain(`<Number>${FRONT_DESK}</Number>`);
    expect(result.dialed).toEqual([{ target: `number:${FRONT_DESK}`, result: 'completed' }]);
    expect(result.violations).toEqual([]);
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]).toMatchObject({ outcome: 'transferred', engineCloses: [4401] });
    expect(h.records[0]!.verbs.map((v) => `${v.verb}:${v.result}`)).toEqual(
      expect.arrayContaining(['fallback:engine_refused', 'transfer_to_human:started']),
    );
  });
});

describe('bridge: engine output rate differs from the input rate', () => {
  it.each([
    { omni: 24000, out: 16000 },
    { omni: 24000, out: 8000 },
    { omni: 8000, out: 24000 },
    { omni: 16000, out: 24000 },
  ])(
    'OMNI_RATE $omni, audio_out $out: the caller hears every word at the right pitch and length',
    async ({ omni, out }) => {
      const h = j.track(
        await startBridgeStack({
          env: { OMNI_RATE: String(omni) },
          outputRate: out,
          steps: [{ wait_ms: 200 }, { say: 'A tone of eight hundred hertz.' }, { close: { code: 1000 } }],
        }),
      );
      const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;
      const eng = h.engine.sessions[0]!;
      expect(eng).toMatchObject({ inputRate: omni, outputRate: out });
      expect(eng.violations).toEqual([]);
      expect(result.violations).toEqual([]);

      // Two utterances told apart by pitch, not by the silence between them: the engine's 200 ms
      // pause can shrink to nothing in playout on a loaded machine (the bridge catching up).
      expect(toneSequence(result.heard, 8000, [VOICE_HZ.support, OTHER_HZ])).toEqual([VOICE_HZ.support, OTHER_HZ]);
      const frame = 160; // 20 ms at 8 kHz
      const boundary = firstFrameOf(result.heard, frame, [VOICE_HZ.support, OTHER_HZ], OTHER_HZ);
      expect(boundary).toBeGreaterThan(0);
      const span = audibleSpan(result.heard);
      expect(span).toBeDefined();
      // the frame on either side of the boundary may hold both voices: pitch is read inside each
      expect(pitch(result.heard, span!.first, boundary - frame, 8000)).toBeCloseTo(VOICE_HZ.support, -1);
      expect(pitch(result.heard, boundary + frame, span!.last + 1, 8000)).toBeCloseTo(OTHER_HZ, -1);
      // what the engine sent, all of it, no faster and no slower (within 5%)
      const heardMs = audibleMs(result.heard, 8000);
      expect(heardMs).toBeGreaterThan(eng.audioMsSent * 0.95);
      expect(heardMs).toBeLessThan(eng.audioMsSent * 1.05);
      // and each utterance at its own length, to a frame
      expect(Math.abs(audibleMs(result.heard, 8000, 0, boundary) - voiceMs(GREETING.support))).toBeLessThanOrEqual(25);
      expect(h.logs.find('omni output rate set')[0]).toMatchObject({ from: omni, to: out });
    },
  );
});
