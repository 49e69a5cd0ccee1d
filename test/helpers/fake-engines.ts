/**
 * Misbehaving Omni engines for fault tests: one that accepts TCP connections and never says a
 * word, and a hand-driven WebSocket engine whose every message the test writes (garbage included).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** Accepts TCP connections and never answers the WebSocket upgrade. */
export async function startMuteEngine(): Promise<{ url: string; connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface HandEngineSession {
  ws: WebSocket;
  /** control frames the bridge sent (parsed) */
  control: Record<string, unknown>[];
  audioFrames: number;
  event(ev: Record<string, unknown>): void;
}

/**
 * A WebSocket engine that does the handshake (hello, session_started, configured at `rate`)
 * and then hands the session to the test; it answers `session_ending` like the real one.
 */
export async function startHandEngine(
  onSession: (s: HandEngineSession) => void,
  rate = 24000,
): Promise<{ url: string; sessions: HandEngineSession[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    perMessageDeflate: false,
    handleProtocols: (p) => [...p][0] ?? false,
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const sessions: HandEngineSession[] = [];
  wss.on('connection', (ws) => {
    const s: HandEngineSession = {
      ws,
      control: [],
      audioFrames: 0,
      event: (ev) => ws.send(Buffer.from('\u0003' + JSON.stringify(ev), 'utf8')),
    };
    sessions.push(s);
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0x01) return void s.audioFrames++;
      if (data[0] !== 0x03) return;
      const frame = JSON.parse(data.toString('utf8', 1)) as Record<string, unknown>;
      s.control.push(frame);
      if (frame.type === 'configure') {
        const fmt = `pcm16@${rate}`;
        s.event({ event: 'hello', protocol: 2, audio_in: fmt, audio_out: fmt, call_id: `hand-${sessions.length}` });
        s.event({
          event: 'session_started',
          agent_id: 'hand',
          audio_in: fmt,
          audio_out: fmt,
          call_id: `hand-${sessions.length}`,
        });
        s.event({ event: 'configured', voice_id: 'x', greeting: false, tools: 0, audio_out: fmt });
        onSession(s);
      } else if (frame.type === 'session_ending') {
        s.event({ event: 'session_end' });
        ws.close(1000);
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

/** `0x01` + PCM16LE, the engine's audio frame. */
export function audioFrame(pcm: Int16Array): Buffer {
  const b = Buffer.alloc(1 + pcm.byteLength);
  b[0] = 0x01;
  Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).copy(b, 1);
  return b;
}
