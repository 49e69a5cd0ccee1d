/**
 * Start-up check of the two receive fast paths that read private fields (shared-read.ts: Node's
 * socket internals; ws-fast-receive.ts: ws's Receiver). Both fall back silently per socket when a
 * field is not what they expect; this asks the same questions once, of a loopback WebSocket
 * opened for the purpose, so that an upgrade of Node or ws that disables one shows up in the
 * start-up log and in `bridge_fast_path_active` instead of only as a higher CPU bill.
 * It changes no socket and no counter.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from 'ws';
import { sharedReadProblem } from './shared-read.js';
import { fastReceiveProblem } from './ws-fast-receive.js';

export type FastPath = 'shared_read' | 'ws_fast_receive';
export interface FastPathState {
  active: boolean;
  /** why it fell back; for an active path, what it runs on */
  reason: string;
}
export type FastPathReport = Record<FastPath, FastPathState>;

const wsVersion = (() => {
  try {
    return (createRequire(import.meta.url)('ws/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

/**
 * Whether each fast path is active in this process. `enabled` is `bridge.shared_read_buffer`
 * (the fast receive path runs inside the shared read, so it is off with it).
 */
export async function probeFastPaths(enabled: boolean, timeoutMs = 5000): Promise<FastPathReport> {
  if (!enabled) {
    return {
      shared_read: { active: false, reason: 'off: bridge.shared_read_buffer is false' },
      ws_fast_receive: {
        active: false,
        reason: 'off: it runs inside the shared read buffer, and bridge.shared_read_buffer is false',
      },
    };
  }
  let problems: { read?: string; receive?: string };
  try {
    problems = await probeLoopback(timeoutMs);
  } catch (err) {
    const reason = `probe failed: ${(err as Error).message}`;
    return { shared_read: { active: false, reason }, ws_fast_receive: { active: false, reason } };
  }
  const read: FastPathState = problems.read
    ? { active: false, reason: problems.read }
    : { active: true, reason: `Node ${process.version} socket internals as expected` };
  const receive: FastPathState = problems.receive
    ? { active: false, reason: problems.receive }
    : read.active
      ? { active: true, reason: `ws ${wsVersion} Receiver fields as expected` }
      : { active: false, reason: 'it runs inside the shared read buffer, which fell back' };
  return { shared_read: read, ws_fast_receive: receive };
}

/** One loopback WebSocket: the server side is what a Twilio media socket is, the client side an engine socket. */
async function probeLoopback(timeoutMs: number): Promise<{ read?: string; receive?: string }> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  let client: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const accepted = once(wss, 'connection') as Promise<[WebSocket, IncomingMessage]>;
      client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
      client.on('error', () => {}); // a failure shows as the timeout; never as an unhandled 'error'
      const opened = once(client, 'open');
      opened.catch(() => {});
      const [serverWs, req] = await accepted;
      serverWs.on('error', () => {});
      await opened;
      const read =
        sharedReadProblem(req.socket) ?? sharedReadProblem((client as unknown as { _socket: Socket })._socket);
      const receive = fastReceiveProblem(serverWs) ?? fastReceiveProblem(client);
      return { read, receive };
    })();
    work.catch(() => {}); // after a timeout nobody awaits it any more
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no loopback WebSocket within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    client?.terminate();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.close();
  }
}

/** The start-up line's text: each path active, or fell back and why. */
export function describeFastPaths(report: FastPathReport): string {
  const part = (name: FastPath): string => {
    const s = report[name];
    return s.active ? `${name} active` : `${name} fell back (${s.reason})`;
  };
  return `receive fast paths: ${part('shared_read')}, ${part('ws_fast_receive')}`;
}
