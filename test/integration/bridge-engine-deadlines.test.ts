/**
 * Engine faults that would leave a caller in dead air: an engine that
 * accepts the socket and never says hello, one that says hello and then never speaks while the
 * caller waits, and one that comes up and drops again and again (a flap). Each engine is written
 * here, over a real loopback socket; the bounds are configured short so the tests are quick and
 * deterministic. The negative tests show that legitimate silence (a slow tool, hold audio, the
 * agent waiting for the caller) does not trip the reply deadline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseTwiml } from '../../src/sim/twilio/index.js';
import type { CallResult } from '../../src/sim/twilio/index.js';
import { audibleMs, pitch, audibleSpan, tone } from '../helpers/audio.js';
import { CALLER, SUPPORT_NUMBER, janitor, sleep, startBridgeStack, type BridgeStack } from '../helpers/bridge-stack.js';
import { audioFrame } from '../helpers/fake-engines.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';

const j = janitor();
afterEach(() => j.closeAll());

interface Session {
  n: number;
  ws: WebSocket;
  control: Record<string, unknown>[];
  audioFrames: number;
  event(ev: Record<string, unknown>): void;
  /** agent audio at 24 kHz, sent at once in 20 ms frames */
  speak(pcm: Int16Array): void;
}

interface EngineScript {
  /** answer `configure` with hello, session_started and configured (default true) */
  hello?: boolean;
  /** the `greeting` flag of `configured` */
  greeting?: boolean;
  /** after the handshake */
  onSession?: (s: Session) => void;
  /** every control frame the bridge sends after `configure` */
  onControl?: (s: Session, frame: Record<string, unknown>) => void;
}

/** A loopback Omni engine whose behaviour after the socket opens is the test's script. */
async function startScriptEngine(
  script: EngineScript,
): Promise<{ url: string; sessions: Session[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    handleProtocols: (p) => [...p][0] ?? false,
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const sessions: Session[] = [];
  wss.on('connection', (ws) => {
    const s: Session = {
      n: sessions.length + 1,
      ws,
      control: [],
      audioFrames: 0,
      event: (ev) => {
        if (ws.readyState === ws.OPEN) ws.send(Buffer.from('\u0003' + JSON.stringify(ev), 'utf8'));
      },
      speak: (pcm) => {
        for (let i = 0; i < pcm.length && ws.readyState === ws.OPEN; i += 480)
          ws.send(audioFrame(pcm.subarray(i, i + 480)));
      },
    };
    sessions.push(s);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0x01) return void s.audioFrames++;
      if (data[0] !== 0x03) return;
      const frame = JSON.parse(data.toString('utf8', 1)) as Record<string, unknown>;
      s.control.push(frame);
      if (frame.type === 'configure') {
        if (script.hello === false) return; // accepts the socket, then says nothing at all
        const fmt = 'pcm16@24000';
        s.event({ event: 'hello', protocol: 2, audio_in: fmt, audio_out: fmt, call_id: `script-${s.n}` });
        s.event({
          event: 'session_started',
          agent_id: 'script',
          audio_in: fmt,
          audio_out: fmt,
          call_id: `script-${s.n}`,
        });
        s.event({ event: 'configured', voice_id: 'x', greeting: script.greeting ?? false, tools: 0, audio_out: fmt });
        script.onSession?.(s);
      } else if (frame.type === 'session_ending') {
        s.event({ event: 'session_end' });
        ws.close(1000);
      } else {
        script.onControl?.(s, frame);
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    sessions,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

const at = (r: CallResult, prefix: string): number | undefined =>
  r.timeline.find((e) => e.what.startsWith(prefix))?.atMs;

/** The bridge's fallback: one REST update whose TwiML says the agent's message and hangs up. */
function expectHangupFallback(h: BridgeStack): void {
  const updates = h.sim.restRequests.filter((r) => r.method === 'POST' && typeof r.form.Twiml === 'string');
  expect(updates).toHaveLength(1);
  const twiml = parseTwiml(String(updates[0]!.form.Twiml));
  expect(twiml.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
  expect(JSON.stringify(twiml.children[0])).toContain('Technical difficulties');
}

async function outcome(h: BridgeStack): Promise<string> {
  await waitFor(() => h.records.length === 1);
  return h.records[0]!.outcome;
}

describe('bridge: an engine that accepts the socket and never says hello', () => {
  it('drops each silent session at the hello deadline, reconnects within the outage budget, then runs the fallback', async () => {
    const engine = j.track(await startScriptEngine({ hello: false }));
    const h = j.track(await startBridgeStack({ support: { engine: { base_url: engine.url, hello_timeout_ms: 300 } } }));
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 20_000 });
    const result = await call.done;

    // 4 sessions of 300 ms with the 100/600/1800 ms pauses between them: ~3.7 s, not dead air until
    // the call's end; bounded by the first deadline + the 5 s outage window (+ slack for a busy machine)
    expect(engine.sessions).toHaveLength(4);
    for (const s of engine.sessions) expect(s.control[0]).toMatchObject({ type: 'configure' });
    const fallbackAt = at(result, 'REST update')!;
    expect(fallbackAt).toBeGreaterThan(3500);
    expect(fallbackAt).toBeLessThan(6500);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.violations).toEqual([]);
    expectHangupFallback(h);
    expect(await outcome(h)).toBe('engine_silent');
    expect(await metricValue(h.bridge, 'bridge_engine_deadlines_missed_total', { deadline: 'hello' })).toBe(4);
    expect(h.logs.find('engine said nothing: no hello within the deadline')).toHaveLength(4);
    expect(h.bridge.ctx.registry.size).toBe(0);
  });
});

describe('bridge: an engine that says hello and then never speaks while the caller waits', () => {
  const bounds = { reply_timeout_ms: 400, reply_hold_ms: 800 };
  const noPreconnect = { preconnect: { enabled: false } };

  it('greeting due but never played: the caller hears hold audio for reply_hold_ms, then the fallback', async () => {
    const engine = j.track(await startScriptEngine({ greeting: true }));
    const h = j.track(
      await startBridgeStack({ support: { engine: { base_url: engine.url, ...bounds } }, bridge: noPreconnect }),
    );
    const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;

    const streamAt = at(result, 'stream ')!;
    const fallbackAt = at(result, 'REST update')!;
    // the deadline (400 ms, checked every 200 ms) after the hello, then 800 ms of hold audio
    expect(fallbackAt - streamAt).toBeGreaterThan(1150);
    expect(fallbackAt - streamAt).toBeLessThan(3000);
    const heldMs = audibleMs(result.heard, 8000, Math.round(streamAt * 8), Math.round(fallbackAt * 8));
    expect(heldMs).toBeGreaterThan(600);
    expect(heldMs).toBeLessThan(1000);
    expectHangupFallback(h);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(result.violations).toEqual([]);
    expect(engine.sessions).toHaveLength(1);
    expect(await outcome(h)).toBe('engine_unresponsive');
    expect(h.records[0]!.verbs.map((v) => `${v.verb}:${v.result}`)).toEqual([
      'reply_deadline:missed',
      'fallback:engine_unresponsive',
    ]);
    expect(await metricValue(h.bridge, 'bridge_engine_deadlines_missed_total', { deadline: 'reply' })).toBe(1);
    expect(h.logs.find('engine silent while the caller waits: hold audio, then the fallback')[0]).toMatchObject({
      owedBy: 'greeting',
    });
  });

  it("no greeting: silence before the caller speaks is not timed; after the caller's turn ends, hold audio, then the fallback", async () => {
    let turnEndedAt = 0;
    const engine = j.track(
      await startScriptEngine({
        // the agent waits for the caller (no deadline runs), then the engine reports the caller's
        // end of speech — and never answers it
        onSession: (s) =>
          setTimeout(() => {
            turnEndedAt = performance.now();
            s.event({ event: 'transcript', role: 'user', text: 'partial', final: false });
            s.event({ event: 'transcript', role: 'user', text: 'Where is my order?', final: true });
          }, 1200),
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: { greeting: undefined, engine: { base_url: engine.url, ...bounds } },
        bridge: noPreconnect,
      }),
    );
    let missedAt = 0;
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    const poll = setInterval(() => {
      if (!missedAt && h.logs.find('engine silent while the caller waits: hold audio, then the fallback').length)
        missedAt = performance.now();
    }, 10);
    j.track({ close: () => clearInterval(poll) });
    const result = await call.done;

    expect(turnEndedAt).toBeGreaterThan(0);
    expect(missedAt - turnEndedAt).toBeGreaterThan(350); // 1.2 s of silence before it were not the engine's to fill
    expect(missedAt - turnEndedAt).toBeLessThan(1200);
    expectHangupFallback(h);
    expect(await outcome(h)).toBe('engine_unresponsive');
    expect(h.logs.find('engine silent while the caller waits: hold audio, then the fallback')[0]).toMatchObject({
      owedBy: 'caller_turn',
    });
    const streamAt = at(result, 'stream ')!;
    const fallbackAt = at(result, 'REST update')!;
    expect(audibleMs(result.heard, 8000, Math.round(streamAt * 8), Math.round(fallbackAt * 8))).toBeGreaterThan(600);
  });
});

describe('bridge: an engine that flaps (up, hello, dropped after ~200 ms, again and again)', () => {
  it('counts reconnects in the sliding window: past 3 in 60 s the fallback runs, after 4 engine sessions', async () => {
    const engine = j.track(
      await startScriptEngine({
        onSession: (s) => setTimeout(() => s.ws.close(1011, 'flap'), 200),
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url } },
        bridge: { preconnect: { enabled: false } },
      }),
    );
    const result = await h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 }).done;

    expect(engine.sessions).toHaveLength(4); // the first and 3 reconnects
    expect(at(result, 'REST update')!).toBeLessThan(5000);
    expectHangupFallback(h);
    expect(result.endedBy).toBe('bridge-hangup');
    expect(await outcome(h)).toBe('engine_flapping');
    expect(await metricValue(h.bridge, 'bridge_engine_flaps_total')).toBe(4);
    expect(await metricValue(h.bridge, 'bridge_engine_reconnects_total', { result: 'gave_up' })).toBe(1);
    const warnings = h.logs.find('engine closed abnormally; reconnecting');
    expect(warnings.map((w) => w.reconnectsInWindow)).toEqual([1, 2, 3]);
    expect(warnings.every((w) => w.flap === true)).toBe(true);
    expect(h.logs.find('engine flapping: reconnect limit reached within the window')).toHaveLength(1);
    await sleep(500);
    expect(engine.sessions).toHaveLength(4); // and no reconnect after the fallback
  });

  it('reconnects that have left the window no longer count: 1 in 1 s allowed, an engine dropping every ~1.1 s is reconnected on', async () => {
    const engine = j.track(
      await startScriptEngine({
        onSession: (s) => setTimeout(() => s.ws.close(1011, 'slow flap'), 1100),
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url, max_reconnects: 1, reconnect_window_ms: 1000 } },
        bridge: { preconnect: { enabled: false } },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    await waitFor(() => engine.sessions.length >= 4, 6000);
    call.hangup();
    await call.done;
    expect(h.sim.restRequests.filter((r) => typeof r.form.Twiml === 'string')).toHaveLength(0);
    expect(await outcome(h)).toBe('caller_hangup');
  });
});

describe('bridge: legitimate silence does not trip the reply deadline', () => {
  const bounds = { reply_timeout_ms: 400, reply_hold_ms: 300 };
  const REPLY_HZ = 900;

  /** A webhook tool that answers after `delayMs`. */
  async function slowTool(delayMs: number): Promise<{ url: string; calls: number; close(): Promise<void> }> {
    let calls = 0;
    const server = http.createServer((req, res) => {
      calls++;
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ status: 'shipped' }));
        }, delayMs),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tool`,
      get calls() {
        return calls;
      },
      close: () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    };
  }

  /** The caller's turn ends, the engine does `then` instead of speaking, and speaks once `answer` says so. */
  function engineAfterCallerTurn(then: (s: Session) => void): EngineScript {
    return {
      greeting: true,
      onSession: (s) => {
        s.speak(tone(500, 300, 24000)); // the greeting
        setTimeout(() => {
          s.event({ event: 'transcript', role: 'user', text: 'Where is my order?', final: true });
          then(s);
        }, 600);
      },
    };
  }

  async function expectCallGoesOn(h: BridgeStack, call: ReturnType<BridgeStack['sim']['placeCall']>): Promise<void> {
    call.hangup();
    const result = await call.done;
    expect(h.sim.restRequests.filter((r) => typeof r.form.Twiml === 'string')).toHaveLength(0);
    expect(await metricValue(h.bridge, 'bridge_engine_deadlines_missed_total', { deadline: 'reply' })).toBe(0);
    expect(await outcome(h)).toBe('caller_hangup');
    // the late reply reached the caller: the last thing heard is its pitch
    const span = audibleSpan(result.heard)!;
    expect(pitch(result.heard, span.last - 1600, span.last, 8000)).toBeCloseTo(REPLY_HZ, -1);
  }

  it('a tool call that takes 1.5 s (deadline 400 ms): the engine answers after the tool_result and the call goes on', async () => {
    const tool = j.track(await slowTool(1500));
    // webhook secrets are read from the process environment when the tools load
    process.env.TOOL_SECRET_DEADLINES_SIGNING = 'tool-signing-secret-0123456789';
    j.track({ close: () => delete process.env.TOOL_SECRET_DEADLINES_SIGNING });
    let answeredAt = 0;
    const engine = j.track(
      await startScriptEngine({
        ...engineAfterCallerTurn((s) =>
          s.event({ event: 'tool_call', call_id: 't1', name: 'order_status', arguments: { order_id: '42' } }),
        ),
        onControl: (s, frame) => {
          if (frame.type !== 'tool_result') return;
          setTimeout(() => {
            answeredAt = performance.now();
            s.speak(tone(REPLY_HZ, 400, 24000));
          }, 150);
        },
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: {
          engine: { base_url: engine.url, ...bounds },
          tools: [
            {
              name: 'order_status',
              description: 'Order status by number.',
              side_effect: 'read',
              timeout_ms: 3000,
              parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
              executor: {
                kind: 'http',
                url: tool.url,
                method: 'POST',
                signing_secret_env: 'TOOL_SECRET_DEADLINES_SIGNING',
              },
            },
          ],
        },
        bridge: { preconnect: { enabled: false }, tool_allow_hosts: ['127.0.0.1'] },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    await waitFor(() => answeredAt > 0, 5000);
    await sleep(800);
    expect(tool.calls).toBe(1);
    expect(engine.sessions[0]!.control.find((f) => f.type === 'tool_result')).toMatchObject({
      call_id: 't1',
      output: { status: 'shipped' },
    });
    await expectCallGoesOn(h, call);
  });

  it('a caller "uh-huh" while a long reply is still playing owes nothing: no hold, no fallback after the reply', async () => {
    const engine = j.track(
      await startScriptEngine({
        greeting: true,
        onSession: (s) => {
          s.speak(tone(REPLY_HZ, 2000, 24000)); // the whole reply at once, faster than real time
          setTimeout(() => s.event({ event: 'transcript', role: 'user', text: 'uh-huh', final: true }), 700);
        },
      }),
    );
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url, ...bounds } },
        bridge: { preconnect: { enabled: false } },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    await waitFor(() => engine.sessions.length === 1, 3000);
    await sleep(2000 + bounds.reply_timeout_ms + bounds.reply_hold_ms + 600); // past the reply's end + both bounds
    expect(h.records).toHaveLength(0);
    await expectCallGoesOn(h, call);
  });

  it('hold audio for 1.2 s (deadline 400 ms): the engine speaks after the hold and the call goes on', async () => {
    let answeredAt = 0;
    const engine = j.track(
      await startScriptEngine(
        engineAfterCallerTurn((s) => {
          s.event({ event: 'play_hold', seconds: 1.2 });
          setTimeout(() => {
            answeredAt = performance.now();
            s.speak(tone(REPLY_HZ, 400, 24000));
          }, 1400);
        }),
      ),
    );
    const h = j.track(
      await startBridgeStack({
        support: { engine: { base_url: engine.url, ...bounds } },
        bridge: { preconnect: { enabled: false } },
      }),
    );
    const call = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 10_000 });
    await waitFor(() => answeredAt > 0, 5000);
    await sleep(800);
    expect(h.records).toHaveLength(0);
    await expectCallGoesOn(h, call);
  });
});
