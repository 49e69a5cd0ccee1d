/**
 * The whole product offline: the Twilio simulator calls the bridge, the
 * offline engine answers. A full call, barge-in mid-sentence measured on what the caller heard,
 * and the latency the bridge adds (from its own histogram and end to end over a loopback engine).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMulaw } from '../../src/audio/index.js';
import type { Bridge } from '../../src/bridge.js';
import { sharedReadStats } from '../../src/net/shared-read.js';
import { fastReceiveStats } from '../../src/net/ws-fast-receive.js';
import { audibleMs, audibleRuns, percentile, tone, toneSequence } from '../helpers/audio.js';
import {
  CALLER,
  GREETING,
  OTHER_HZ,
  SUPPORT_NUMBER,
  VOICE_HZ,
  janitor,
  sleep,
  startBridgeStack,
  voiceMs,
} from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { histogramQuantiles, type HistogramSummary } from '../helpers/metrics.js';
import { RawStream, SILENCE, sid } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

const ORDER_TOOL = {
  name: 'get_order_status',
  description: 'Order status by number.',
  side_effect: 'read',
  timeout_ms: 2000,
  parameters: {
    type: 'object',
    properties: { order_id: { type: 'string' } },
    required: ['order_id'],
    additionalProperties: false,
  },
  executor: { kind: 'module', module: './tools/get_order_status.js' },
};

/** p50/p99 of the bridge's own per-frame processing time, printed for the report. */
async function reportAddedLatency(
  label: string,
  bridge: Bridge,
): Promise<Record<'inbound' | 'outbound', HistogramSummary>> {
  const inb = await histogramQuantiles(bridge, 'bridge_added_latency_seconds', { direction: 'inbound' });
  const out = await histogramQuantiles(bridge, 'bridge_added_latency_seconds', { direction: 'outbound' });
  const us = (s: number) => `${(s * 1e6).toFixed(0)} µs`;
  console.log(
    `[latency] ${label}: Twilio media → engine frame p50 ${us(inb.p50)} p99 ${us(inb.p99)} (${inb.count} frames); ` +
      `engine audio → Twilio media p50 ${us(out.p50)} p99 ${us(out.p99)} (${out.count} frames)`,
  );
  return { inbound: inb, outbound: out };
}

describe('bridge: a full call over the simulator and the offline engine', () => {
  it('greets, takes the caller turn, runs a tool, forwards DTMF and hangs up when the agent ends the call', async () => {
    const h = j.track(
      await startBridgeStack({
        support: { tools: [ORDER_TOOL] },
        steps: [
          { wait_for_caller: true, expect: 'Where is my order?', timeout_ms: 8000 },
          {
            tool_call: {
              name: 'get_order_status',
              arguments: { order_id: '4417' },
              call_id: 'tool-1',
              say_template: 'Order {{order_id}} {{status}}.',
            },
          },
          { wait_for_dtmf: { until: '#', timeout_ms: 5000 } },
          { say: 'Thanks, goodbye.' },
          { verb: 'end_call', args: { reason: 'done' } },
        ],
      }),
    );
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 20_000,
      caller: [
        { afterAgentSilenceMs: 300, say: 'Where is my order?' },
        { afterAgentSilenceMs: 300, dtmf: '12#' },
      ],
    });
    const result = await call.done;

    expect(result.violations).toEqual([]);
    expect(h.engine.violations).toEqual([]);
    expect(result.endedBy).toBe('rest-completed');
    expect(result.streams).toHaveLength(1);

    const eng = h.engine.sessions[0]!;
    expect(h.engine.sessions).toHaveLength(1);
    expect(eng.config).toMatchObject({ persona: expect.stringContaining('Ada'), greeting: GREETING.support });
    expect((eng.config!.tools as { name: string }[]).map((t) => t.name)).toEqual(['get_order_status']);
    expect(eng.toolResults).toEqual([
      { callId: 'tool-1', name: 'get_order_status', output: expect.objectContaining({ status: 'shipped' }) },
    ]);
    expect(eng.dtmf).toEqual(['1', '2', '#']);
    expect(eng.transcripts.map((t) => t.role)).toEqual(['assistant', 'user', 'assistant', 'assistant']);

    await waitFor(() => h.records.length === 1);
    const rec = h.records[0]!;
    expect(rec).toMatchObject({
      callSid: call.callSid,
      agent: 'support',
      outcome: 'agent_hangup',
      dtmf: '12#',
      bargeIns: 0,
    });
    expect(rec.tools).toEqual([expect.objectContaining({ name: 'get_order_status', outcome: 'ok' })]);

    // The caller heard the greeting (support's pitch) and then the agent's other words, all of them.
    expect(toneSequence(result.heard, 8000, [VOICE_HZ.support, OTHER_HZ])).toEqual([VOICE_HZ.support, OTHER_HZ]);
    const spoken = voiceMs(GREETING.support) + voiceMs('Order 4417 shipped.') + voiceMs('Thanks, goodbye.');
    expect(audibleMs(result.heard, 8000)).toBeGreaterThan(spoken * 0.95);
    expect(audibleMs(result.heard, 8000)).toBeLessThan(spoken * 1.05);
    await reportAddedLatency('full call', h.bridge);
  });

  it("stops the agent within 100 ms of the engine's flush when the caller barges in mid-sentence", async () => {
    const LONG =
      'This is a long answer that the caller will not let me finish, because they interrupt me halfway through it.';
    const h = j.track(
      await startBridgeStack({ steps: [{ say: LONG }, { wait_for_caller: true, timeout_ms: 5000 }, { say: 'Yes?' }] }),
    );
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 15_000,
      caller: [{ atMs: 1400, noiseMs: 400 }],
    });
    // Call clock ↔ performance.now(): the timeline's entries carry the call clock.
    let origin: number | undefined;
    call.on('timeline', (e) => {
      origin ??= performance.now() - e.atMs;
    });
    let flushAt: number | undefined;
    const poll = setInterval(() => {
      if (flushAt === undefined && h.engine.sessions[0]?.eventsSent.some((e) => e.event === 'flush'))
        flushAt = performance.now();
    }, 1);
    j.track({ close: () => clearInterval(poll) });
    await waitFor(() => flushAt !== undefined, 5000);
    await sleep(500); // less than the caller's turn: the agent's next words come later
    call.hangup();
    const result = await call.done;

    const flushMs = flushAt! - origin!;
    const runs = audibleRuns(result.heard, 8000);
    // heard[i] was played by the tick that ends at ((i / 160) + 1) * 20 ms of the call clock
    const endMs = (r: { last: number }) => (Math.floor(r.last / 160) + 1) * 20;
    const cut = runs.find((r) => endMs(r) >= flushMs - 200 && r.first / 8 < flushMs)!;
    expect(cut, JSON.stringify({ flushMs, runs })).toBeDefined();
    expect(endMs(cut) - flushMs).toBeLessThanOrEqual(100);
    // it was mid-sentence: the agent had been talking right up to the flush, and was cut short
    expect(flushMs - endMs(cut)).toBeLessThan(60);
    expect(audibleMs(result.heard, 8000)).toBeLessThan(voiceMs(GREETING.support) + voiceMs(LONG) - 1000);
    // nothing audible after the cut until the hang-up
    expect(runs.filter((r) => r.first / 8 > flushMs + 100)).toEqual([]);

    expect(result.violations).toEqual([]);
    const stream = result.streams[0]!;
    expect(stream.clears).toBe(1);
    expect(stream.clearedMs).toBeGreaterThan(0);
    await waitFor(() => h.records.length === 1);
    expect(h.records[0]!.bargeIns).toBe(1);
    console.log(
      `[barge-in] flush at ${flushMs.toFixed(0)} ms; last agent audio heard at ${endMs(cut)} ms (Δ ${(endMs(cut) - flushMs).toFixed(0)} ms); Twilio dropped ${stream.clearedMs} ms`,
    );
    await reportAddedLatency('barge-in call', h.bridge);
  });
});

describe('bridge: added latency', () => {
  it('adds well under a millisecond per frame; measured end to end over a loopback engine', async () => {
    const h = j.track(await startBridgeStack({ engine: { mode: 'loopback' } }));
    const raw = j.track(await RawStream.open(h.target));
    raw.echoMarks = true;
    raw.start(sid('CA'), { agent: 'support' });
    await waitFor(() => h.engine.sessions[0]?.configureCount === 1);
    // Mostly silence, and every 200 ms one loud frame: the time until a loud frame comes back
    // is Twilio → bridge → engine → bridge → Twilio, with the engine answering at once.
    const burst = new Uint8Array(160);
    encodeMulaw(tone(1000, 20, 8000, 12000), burst);
    const sentAt: number[] = [];
    let n = 0;
    const stop = raw.pace(() => {
      if (++n % 10 !== 0) return SILENCE;
      sentAt.push(performance.now());
      return burst;
    });
    j.track({ close: stop });
    await sleep(3000);
    stop();
    await sleep(100);

    const loud = raw
      .media8k()
      .filter((m) => m.pcm.some((v) => Math.abs(v) > 3000))
      .map((m) => m.at);
    const rtt = sentAt.map((t) => loud.find((at) => at >= t)! - t).filter((x) => Number.isFinite(x));
    expect(rtt.length).toBeGreaterThanOrEqual(10);
    const p50 = percentile(rtt, 0.5);
    const p99 = percentile(rtt, 0.99);
    console.log(
      `[latency] loopback round trip (Twilio → bridge → engine → bridge → Twilio, 4 loopback socket hops): p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms over ${rtt.length} bursts`,
    );
    expect(p50).toBeLessThan(60); // the figure itself is printed; speed targets live in bench:load (31.9 ms seen beside two CPU burners)
    const added = await reportAddedLatency('loopback call', h.bridge);
    // Typical frames take ~0.1 ms. The tail is whatever else the shared CPU was doing (a full
    // test run puts 2 workers on 2 cores), so only "under the histogram's last bucket" is asserted.
    expect(added.inbound.p50).toBeLessThan(0.002);
    expect(added.outbound.p50).toBeLessThan(0.002);
    expect(added.inbound.p99).toBeLessThan(0.1);
    expect(added.outbound.p99).toBeLessThan(0.1);
  });
});

/** One call through a bridge with these settings: the greeting heard, the caller's words transcribed. */
async function oneCall(bridge?: Record<string, unknown>) {
  const h = j.track(
    await startBridgeStack({
      bridge,
      steps: [
        { wait_for_caller: true, expect: 'Hello there.', timeout_ms: 8000 },
        { verb: 'end_call', args: { reason: 'done' } },
      ],
    }),
  );
  const call = h.sim.placeCall({
    to: SUPPORT_NUMBER,
    from: CALLER,
    maxDurationMs: 20_000,
    caller: [{ afterAgentSilenceMs: 300, say: 'Hello there.' }],
  });
  const result = await call.done;
  expect(result.violations).toEqual([]);
  expect(h.engine.violations).toEqual([]);
  expect(audibleMs(result.heard, 8000)).toBeGreaterThan(voiceMs(GREETING.support) * 0.95);
  expect(h.engine.sessions[0]!.transcripts.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([
    'Hello there.',
  ]);
  return h;
}

describe('bridge: shared read buffer (bridge.shared_read_buffer)', () => {
  it("is on by default: the media and engine sockets read into it, whole frames skip ws's stream, and the call is heard in full both ways", async () => {
    const before = { sockets: sharedReadStats.switched, frames: fastReceiveStats.frames };
    await oneCall();
    expect(sharedReadStats.switched - before.sockets).toBeGreaterThanOrEqual(2);
    // a call of a few seconds is hundreds of 20 ms frames each way
    expect(fastReceiveStats.frames - before.frames).toBeGreaterThan(100);
  });

  it('switches no socket and takes no frame when set to false, and the call is the same', async () => {
    const before = { sockets: sharedReadStats.switched, frames: fastReceiveStats.frames };
    await oneCall({ shared_read_buffer: false });
    expect(sharedReadStats.switched).toBe(before.sockets);
    expect(fastReceiveStats.frames).toBe(before.frames);
  });
});

describe('bridge: write coalescing (bridge.write_coalesce_ms)', () => {
  it('is on by default: carries a whole call with writes held to the end of each batch, and meters the wait on both sockets', async () => {
    const h = j.track(
      await startBridgeStack({
        steps: [
          { wait_for_caller: true, expect: 'Hello there.', timeout_ms: 8000 },
          { say: 'Goodbye now.' },
          { verb: 'end_call', args: { reason: 'done' } },
        ],
      }),
    );
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 20_000,
      caller: [{ afterAgentSilenceMs: 300, say: 'Hello there.' }],
    });
    const result = await call.done;
    expect(result.violations).toEqual([]);
    expect(h.engine.violations).toEqual([]);
    expect(result.endedBy).toBe('rest-completed');
    // Nothing held is lost: the caller heard the greeting and the goodbye in full.
    const spoken = voiceMs(GREETING.support) + voiceMs('Goodbye now.');
    expect(audibleMs(result.heard, 8000)).toBeGreaterThan(spoken * 0.95);
    expect(h.engine.sessions[0]!.transcripts.filter((t) => t.role === 'user').map((t) => t.text)).toEqual([
      'Hello there.',
    ]);
    for (const direction of ['to_twilio', 'to_engine']) {
      const held = await histogramQuantiles(h.bridge, 'bridge_write_hold_seconds', { direction });
      expect(held.count).toBeGreaterThan(10);
      // Held to the end of the batch (1 ms at most by default), not to the next write 20 ms later:
      // the median tells the two apart. Its tail is the OS's scheduling on a loaded machine, not
      // the coalescer's (a descheduled poll phase stretches any wall-clock hold), and is a benchmark figure.
      expect(held.p50).toBeLessThanOrEqual(0.005);
    }
  });

  it('holds nothing when set to 0: writes go straight out and no wait is metered', async () => {
    const h = await oneCall({ write_coalesce_ms: 0 });
    for (const direction of ['to_twilio', 'to_engine']) {
      expect((await histogramQuantiles(h.bridge, 'bridge_write_hold_seconds', { direction })).count).toBe(0);
    }
  });
});
