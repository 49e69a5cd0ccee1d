/**
 * Engine behaviours the bridge did not invent: each test runs a small engine of its own that
 * speaks the way a real one has been seen to (PyAI's reference server and others), over real
 * sockets against a real bridge and the Twilio simulator.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CALLER, SUPPORT_NUMBER, janitor, startBridgeStack } from '../helpers/bridge-stack.js';
import { audibleSpan, pitch, tone } from '../helpers/audio.js';
import { audioFrame } from '../helpers/fake-engines.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';

const j = janitor();
afterEach(() => j.closeAll());

interface BareSession {
  ws: WebSocket;
  control: Record<string, unknown>[];
  event(ev: Record<string, unknown>): void;
  /** `pcm` in `chunk`-sample messages, one every `everyMs` (a timer, like the reference server) */
  stream(pcm: Int16Array, chunk: number, everyMs: number): Promise<void>;
}

/** An engine that says nothing by itself: on `configure`, the test's `onConfigure` speaks for it. */
async function startBareEngine(
  onConfigure: (s: BareSession) => void,
  onControl?: (s: BareSession, f: Record<string, unknown>) => void,
) {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    handleProtocols: (p) => [...p][0] ?? false,
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const timers = new Set<NodeJS.Timeout>();
  wss.on('connection', (ws) => {
    const s: BareSession = {
      ws,
      control: [],
      event: (ev) => {
        if (ws.readyState === ws.OPEN) ws.send(Buffer.from('\u0003' + JSON.stringify(ev), 'utf8'));
      },
      stream: (pcm, chunk, everyMs) =>
        new Promise((resolve) => {
          let at = 0;
          const next = () => {
            if (ws.readyState !== ws.OPEN || at >= pcm.length) return resolve();
            ws.send(audioFrame(pcm.subarray(at, at + chunk)));
            at += chunk;
            const t = setTimeout(next, everyMs);
            timers.add(t);
          };
          next();
        }),
    };
    ws.on('message', (data: Buffer) => {
      if (data[0] !== 0x03) return;
      const f = JSON.parse(data.toString('utf8', 1)) as Record<string, unknown>;
      s.control.push(f);
      if (f.type === 'configure') onConfigure(s);
      else if (f.type === 'session_ending') ws.close(1000);
      else onControl?.(s, f);
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** The reference server's handshake: session_started with a rate-less audio_out, then config_ack. */
function referenceHandshake(s: BareSession, helloRate?: number): void {
  if (helloRate)
    s.event({
      event: 'hello',
      protocol: 2,
      audio_in: 'pcm16@24000',
      audio_out: `pcm16@${helloRate}`,
      call_id: 'ref-1',
    });
  s.event({ event: 'session_started', agent_id: 'ref', audio_in: 'pcm16', audio_out: 'pcm16', call_id: 'ref-1' });
  s.event({ event: 'config_ack', voice_id: 'v', honored: ['persona', 'greeting'], ignored: [] });
}

describe('engines that speak differently from our own', () => {
  it('takes config_ack for configured and keeps the announced rate when session_started says just "pcm16"', async () => {
    const engine = j.track(
      await startBareEngine((s) => {
        referenceHandshake(s, 16000);
        s.event({ event: 'turn', role: 'assistant' });
        void s.stream(tone(1000, 900, 16000), 2400, 150); // 150 ms chunks at 16 kHz
      }),
    );
    const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url } } }));
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    call.on('stream-start', () => setTimeout(() => call.hangup(), 1800));
    const result = await call.done;
    const span = audibleSpan(result.heard)!;
    // at 24 kHz by mistake it would be 1500 Hz and 600 ms
    expect(pitch(result.heard, span.first, span.last, 8000)).toBeCloseTo(1000, -1);
    expect((span.last - span.first) / 8).toBeGreaterThan(850);
    expect(await metricValue(h.bridge, 'bridge_rejected_messages_total', { source: 'engine' })).toBe(0);
  });

  it('a turn event starts a new reply even when its audio follows the last reply closely', async () => {
    const speak = async (s: BareSession, turns: boolean) => {
      referenceHandshake(s);
      if (turns) s.event({ event: 'turn', role: 'assistant' });
      await s.stream(tone(600, 300, 24000), 3600, 150);
      await new Promise((r) => setTimeout(r, 150)); // the playout runs dry, then the next words come
      if (turns) s.event({ event: 'turn', role: 'assistant', since_caller_end_ms: 400 });
      await s.stream(tone(600, 300, 24000), 3600, 150);
    };
    const replies: number[] = [];
    for (const turns of [true, false]) {
      const engine = j.track(await startBareEngine((s) => void speak(s, turns)));
      const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url }, greeting: undefined } }));
      const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
      call.on('stream-start', () => setTimeout(() => call.hangup(), 1800));
      await call.done;
      await waitFor(() => h.records.length === 1);
      const rec = h.records[0]!;
      replies.push(rec.playback.replies.length);
      if (turns) {
        // the turn carried the caller's end of speech: voice-to-voice is measured for that reply
        expect(rec.playback.replies[1]!.voiceToVoiceMs).toBeGreaterThanOrEqual(400);
        expect(
          (await h.bridge.ctx.metrics.voiceToVoice.get()).values.find(
            (v) => v.metricName === 'bridge_voice_to_voice_seconds_count',
          )?.value,
        ).toBe(1);
      } else {
        // without turns the same gap is the engine falling behind inside one reply: an underrun
        // (a loaded machine may add more: the engine's timer chunks have no lead)
        expect(rec.playback.underruns).toBeGreaterThanOrEqual(1);
        expect(await metricValue(h.bridge, 'bridge_playout_underruns_total')).toBe(rec.playback.underruns);
      }
    }
    expect(replies).toEqual([2, 1]);
  });

  it('records transcripts that arrive on 0x02 before the audio, raw or as JSON, without rejecting them', async () => {
    const engine = j.track(
      await startBareEngine((s) => {
        referenceHandshake(s);
        s.ws.send(Buffer.from('\u0002caller partial words', 'utf8'));
        s.ws.send(
          Buffer.from(
            '\u0002' + JSON.stringify({ role: 'assistant', text: 'Good morning, how can I help?', final: true }),
            'utf8',
          ),
        );
        void s.stream(tone(700, 400, 24000), 3600, 150);
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url } },
        bridge: { call_record_transcript: true },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    call.on('stream-start', () => setTimeout(() => call.hangup(), 1000));
    const result = await call.done;
    expect(audibleSpan(result.heard)).toBeDefined();
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]!.transcript).toEqual([
      expect.objectContaining({ role: 'assistant', text: 'Good morning, how can I help?' }),
    ]);
    expect(await metricValue(h.bridge, 'bridge_rejected_messages_total', { source: 'engine' })).toBe(0);
  });

  it('does not hold the answer for answer_wait_ms when the engine will not greet', async () => {
    const connectAt: number[] = [];
    for (const variant of ['agent without greeting', 'engine ignores the greeting'] as const) {
      const engine = j.track(
        await startBareEngine((s) => {
          s.event({ event: 'session_started', agent_id: 'ref', audio_out: 'pcm16' });
          s.event({
            event: 'config_ack',
            voice_id: 'v',
            honored: ['persona'],
            ignored: variant === 'engine ignores the greeting' ? ['greeting'] : [],
          });
        }),
      );
      const h = j.track(
        await startBridgeStack({
          support: {
            engine: { base_url: engine.url },
            ...(variant === 'agent without greeting' ? { greeting: undefined } : {}),
          },
          bridge: { preconnect: { enabled: true, stream_timeout_ms: 5000, answer_wait_ms: 4000 } },
        }),
      );
      const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
      call.on('stream-start', () => setTimeout(() => call.hangup(), 200));
      const result = await call.done;
      connectAt.push(result.timeline.find((e) => e.what.startsWith('connect stream'))!.atMs);
    }
    // the answer is held only for the engine to come up, never for the 4 s answer_wait_ms
    for (const at of connectAt) expect(at).toBeLessThan(2000);
  });

  it('ignores an engine that echoes each forwarded digit: every digit reaches the engine once, none comes back as an error', async () => {
    const engine = j.track(
      await startBareEngine(
        (s) => referenceHandshake(s),
        (s, f) => {
          if (f.type === 'dtmf') s.event({ event: 'dtmf', digit: f.digit });
        },
      ),
    );
    const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url }, greeting: undefined } }));
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 10_000,
      caller: [{ atMs: 800, dtmf: '123#' }],
    });
    call.on('stream-start', () => setTimeout(() => call.hangup(), 2000));
    await call.done;
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]!.dtmf).toBe('123#');
    expect(await metricValue(h.bridge, 'bridge_rejected_messages_total', { source: 'engine' })).toBe(0);
  });

  it('logs an unknown event type once per call and counts every one', async () => {
    const engine = j.track(
      await startBareEngine((s) => {
        referenceHandshake(s);
        for (let i = 0; i < 5; i++) s.event({ event: 'mystery_event', n: i });
        for (let i = 0; i < 3; i++) s.event({ event: 'other_event' });
      }),
    );
    const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url }, greeting: undefined } }));
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    call.on('stream-start', () => setTimeout(() => call.hangup(), 500));
    await call.done;
    await waitFor(() => h.records.length === 1);
    const lines = h.logs.find(/unknown type ignored/);
    expect(lines.map((l) => l.event)).toEqual(['mystery_event', 'other_event']);
    expect(await metricValue(h.bridge, 'bridge_engine_unknown_events_total')).toBe(8);
  });
});
