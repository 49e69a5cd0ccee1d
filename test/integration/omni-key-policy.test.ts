/**
 * Whoever may edit agents must not thereby receive the Omni key: an agent's own engine.base_url
 * that is not the deployment's engine (or a wss:// host on PYAI_KEY_HOSTS) is connected to without
 * PYAI_API_KEY, while the deployment's engine still gets it. The attacker here is a configuration
 * that points an agent at its own listener on loopback, under a host:port the allow-list lacks.
 */
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { janitor, SALES_NUMBER, startBridgeStack, SUPPORT_NUMBER, CALLER } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';

const KEY = 'pyai-live-key-7Hq2Zt9WmXv4Lp';

/** A WebSocket server that records each upgrade's subprotocols and URL, then hangs up. */
async function startRecorder(): Promise<{
  url: string;
  seen: { protocols: string; url: string }[];
  close(): Promise<void>;
}> {
  const seen: { protocols: string; url: string }[] = [];
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => [...p][0] ?? false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws, req: IncomingMessage) => {
    seen.push({ protocols: String(req.headers['sec-websocket-protocol'] ?? ''), url: req.url ?? '' });
    ws.close(1011, 'recorder');
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    seen,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

const j = janitor();
afterEach(() => j.closeAll());

describe('the Omni key goes only to allow-listed engines', () => {
  it("an agent's base_url off the allow-list is dialled without the key; the deployment's engine still gets it", async () => {
    const recorder = j.track(await startRecorder());
    const h = j.track(
      await startBridgeStack({
        env: { PYAI_API_KEY: KEY },
        // the deployment's engine refuses (4401) any session that does not present the key
        engine: { apiKey: KEY },
        support: { engine: { base_url: recorder.url, max_reconnects: 0 } },
      }),
    );
    expect(h.logs.find(/not a wss:\/\/ host on the Omni key allow-list/)).toMatchObject([
      { agent: 'support', engine: recorder.url },
    ]);

    const hostile = h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 15_000 });
    await waitFor(() => recorder.seen.length > 0, 15_000);
    hostile.hangup();
    await hostile.done;
    for (const s of recorder.seen) {
      expect(s.protocols).not.toContain(KEY);
      expect(s.protocols).not.toContain('pyai-key');
      expect(s.url).not.toContain(KEY);
    }

    const sales = h.sim.placeCall({ to: SALES_NUMBER, from: CALLER, maxDurationMs: 15_000 });
    await waitFor(() => h.engine.sessions.length > 0, 15_000);
    sales.hangup();
    await sales.done;
    expect(h.engine.sessions.every((s) => s.closed?.code !== 4401)).toBe(true); // the key was presented
  });
});
