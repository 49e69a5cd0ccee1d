import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { ACCOUNT_SID, AUTH_TOKEN, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { RawStream, sid } from '../helpers/raw-twilio.js';
import { scrapeMetrics } from '../helpers/metrics.js';

/** An engine that accepts the session and then never reads another byte: a stalled peer. */
async function startStalledEngine(): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => [...p][0] ?? false });
  wss.on('connection', (ws: WebSocket) => {
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  };
}

let h: Harness | undefined;
let stalled: { close(): Promise<void> } | undefined;
afterEach(async () => {
  await h?.close();
  await stalled?.close();
  h = undefined;
  stalled = undefined;
});

describe('backpressure', () => {
  it('keeps memory bounded and counts dropped caller audio when the engine stalls', async () => {
    const engine = await startStalledEngine();
    stalled = engine;
    h = await startHarness({
      tweak: (c) => {
        c.file.bridge.preconnect.enabled = false;
        // The subject is the stalled engine's backlog, not its reply deadline (8 s, then the
        // fallback): on a loaded machine the flood below can outlast it and the call would end.
        for (const a of c.file.agents) a.engine = { ...a.engine, reply_timeout_ms: 120_000 };
        // 20 minutes of audio at socket speed is far over a stream's rate limit (stream-flood.test.ts):
        // lifted here, where the subject is the stalled engine behind the bridge.
        Object.assign(c.file.bridge.media_stream, {
          max_messages_per_s: 1_000_000,
          burst_messages: 1_000_000,
          max_bytes_per_s: 100_000_000,
          burst_bytes: 1_000_000_000,
        });
      },
    });
    // Point the bridge at the stalled engine instead of the offline one.
    (h.bridge.ctx.registry as unknown as { deps: { engine: { baseUrl: string } } }).deps.engine.baseUrl = engine.url;
    const stream = await RawStream.open({ bridgeUrl: h.bridgeUrl, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID });
    const callSid = sid('CA');
    stream.start(callSid, { agent: 'support' });
    await waitFor(() => h!.bridge.ctx.registry.get(callSid)?.engine?.state === 'ready', 5000);
    const heapBefore = process.memoryUsage().heapUsed;
    // 20 minutes of caller audio as fast as the socket takes it: ~58 MB of PCM at 24 kHz.
    const frame = new Uint8Array(160).fill(0x55);
    for (let i = 0; i < 60_000; i++) {
      stream.media(frame, { timestamp: i * 20 });
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r));
    }
    const live = h.bridge.ctx.registry.get(callSid);
    expect(live, 'the call is still up after the flood').toBeDefined();
    const link = live!.engine as unknown as {
      pending: unknown[];
      stats: { pendingDropped: number };
    };
    await waitFor(() => link.stats.pendingDropped > 0, 10_000);
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(
      `stalled engine: ${link.stats.pendingDropped} frames dropped, ${link.pending.length} held, heap growth ${heapGrowthMb.toFixed(1)} MB after 20 min of audio`,
    );
    expect(link.pending.length).toBeLessThanOrEqual(Math.ceil(h.config.file.bridge.max_pending_caller_ms / 20));
    expect(heapGrowthMb).toBeLessThan(40);
    const metrics = await scrapeMetrics(h.bridgeUrl);
    expect(metrics).toMatch(/bridge_frames_dropped_total\{direction="to_engine",reason="engine_backlog"\} [1-9]/);
    stream.close();
  }, 30_000);
});
