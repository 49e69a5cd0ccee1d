import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { OmniClient, OmniConnectError, type OmniClientOptions } from '../../../src/omni/client.js';
import { TAG_AUDIO, TAG_CONTROL, encodeAudioFrame } from '../../../src/omni/framing.js';
import type { OmniEvent } from '../../../src/omni/events.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { at } from '../../helpers/checked.js';

const KEY = 'sk-test-SECRET-0123456789';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface TinyServer {
  url: string;
  conn: Promise<{ ws: WebSocket; req: IncomingMessage }>;
  received: Buffer[];
}

/** A minimal Omni stand-in: echoes the subprotocol and records every message it gets. */
async function tinyServer(): Promise<TinyServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => [...p][0] ?? false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const received: Buffer[] = [];
  const conn = new Promise<{ ws: WebSocket; req: IncomingMessage }>((resolve) => {
    wss.on('connection', (ws, req) => {
      ws.on('message', (d: Buffer) => received.push(d));
      resolve({ ws, req });
    });
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => r());
      }),
  );
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, conn, received };
}

/** An HTTP server whose upgrade handler is given: to hang, refuse, or accept and go silent. */
async function rawServer(onUpgrade: (req: IncomingMessage, socket: Socket) => void): Promise<string> {
  const server: Server = createServer();
  const sockets = new Set<Socket>();
  server.on('upgrade', (req, socket: Socket) => {
    sockets.add(socket);
    onUpgrade(req, socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function makeClient(baseUrl: string, extra: Partial<OmniClientOptions> = {}): OmniClient {
  const client = new OmniClient({
    baseUrl,
    apiKey: KEY,
    rate: 24000,
    sessionLabel: 'call-CA1',
    logger: silentLogger(),
    configure: {
      persona: 'You are helpful.',
      greeting: 'Hello!',
      voice_id: 'v1',
      tools: [{ name: 't', description: 'd', parameters: { type: 'object' } }],
    },
    ...extra,
  });
  cleanups.push(() => client.end());
  return client;
}

function control(obj: unknown): Buffer {
  return Buffer.concat([Buffer.from([TAG_CONTROL]), Buffer.from(JSON.stringify(obj))]);
}
function waitFor<T>(fn: () => T | undefined, ms = 2000): Promise<T> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      const v = fn();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - start > ms) return reject(new Error('waitFor timed out'));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('OmniClient handshake', () => {
  it('carries the key as subprotocol and sends one complete configure first', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    await client.connect();
    const { req } = await srv.conn;
    expect(req.headers['sec-websocket-protocol']).toBe(`pyai-key.${KEY}`);
    expect(req.url).toBe('/v1/omni?format=pcm16&rate=24000&session_label=call-CA1');
    expect(client.sendAudio(new Int16Array(480))).toBe(true);
    await waitFor(() => srv.received.length >= 2);
    expect(at(srv.received, 0, 'received')[0]).toBe(TAG_CONTROL);
    expect(JSON.parse(at(srv.received, 0, 'received').subarray(1).toString())).toEqual({
      type: 'configure',
      persona: 'You are helpful.',
      greeting: 'Hello!',
      voice_id: 'v1',
      tools: [{ name: 't', description: 'd', parameters: { type: 'object' } }],
    });
    expect(at(srv.received, 1, 'received')[0]).toBe(TAG_AUDIO);
    expect(at(srv.received, 1, 'received').length).toBe(961);
    expect(srv.received.filter((b) => b[0] === TAG_CONTROL)).toHaveLength(1);
  });

  it('offers no subprotocol without a key', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url, { apiKey: undefined });
    await client.connect();
    expect((await srv.conn).req.headers['sec-websocket-protocol']).toBeUndefined();
  });

  it('is single-use', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    await client.connect();
    await expect(client.connect()).rejects.toThrow(/single-use/);
  });

  it('treats a failed connect as a close the owner can act on, reported once', async () => {
    const url = await rawServer((_req, socket) => socket.end('HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n'));
    const client = makeClient(url);
    const closes: number[] = [];
    client.on('close', (c) => closes.push(c));
    const err = (await client.connect().catch((e: unknown) => e)) as OmniConnectError;
    expect(err.retryable).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(closes).toEqual([1011]);
  });
});

describe('OmniClient receiving', () => {
  it('reports audio at the input rate until audio_out says otherwise', async () => {
    const srv = await tinyServer();
    const got: number[] = [];
    const client = makeClient(srv.url, { onAudio: (pcm, rate) => got.push(rate, pcm.length) });
    let ready = 0;
    client.on('ready', () => ready++);
    await client.connect();
    const { ws } = await srv.conn;
    ws.send(encodeAudioFrame(new Int16Array(480)));
    ws.send(control({ event: 'hello', protocol: 2, audio_out: 'pcm16@16000', call_id: 'eng-1' }));
    ws.send(encodeAudioFrame(new Int16Array(320)));
    ws.send(control({ event: 'configured', audio_out: 'pcm16@8000' }));
    ws.send(encodeAudioFrame(new Int16Array(160)));
    await waitFor(() => got.length >= 6);
    expect(got).toEqual([24000, 480, 16000, 320, 8000, 160]);
    expect(client.outputRate).toBe(8000);
    expect(ready).toBe(1);
    expect(client.engineCallId).toBe('eng-1');
  });

  it('counts garbage as rejected and keeps the session going', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    const reasons: string[] = [];
    const events: OmniEvent[] = [];
    client.on('rejected', (r) => reasons.push(r));
    client.on('event', (e) => events.push(e));
    await client.connect();
    const { ws } = await srv.conn;
    ws.send(Buffer.from([0x09, 1, 2]));
    ws.send(Buffer.concat([Buffer.from([TAG_CONTROL]), Buffer.from('{bad')]));
    ws.send(control({ event: 'play_hold', seconds: 'forever' }));
    ws.send('{"event":"flush"}');
    await waitFor(() => events.length >= 1);
    expect(reasons).toHaveLength(3);
    expect(client.stats.rejected).toBe(3);
    expect(events).toEqual([{ type: 'barge_in' }]);
    expect(client.isOpen).toBe(true);
  });

  it('survives a listener that throws', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    const events: OmniEvent[] = [];
    client.on('event', (e) => {
      events.push(e);
      throw new Error('listener bug');
    });
    await client.connect();
    const { ws } = await srv.conn;
    ws.send(control({ event: 'flush' }));
    ws.send(control({ event: 'session_end' }));
    await waitFor(() => events.length >= 2);
    expect(client.isOpen).toBe(true);
    expect(client.sessionEndReceived).toBe(true);
  });

  it('emits close exactly once with the server code and reason', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    const closes: [number, string][] = [];
    client.on('close', (c, r) => closes.push([c, r]));
    await client.connect();
    (await srv.conn).ws.close(4401, 'bad key');
    await waitFor(() => closes.length >= 1);
    client.end();
    await new Promise((r) => setTimeout(r, 30));
    expect(closes).toEqual([[4401, 'bad key']]);
    expect(client.sendAudio(new Int16Array(10))).toBe(false);
  });
});

describe('OmniClient sending', () => {
  it('refuses to send before connect and refuses invalid DTMF', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    expect(client.sendAudio(new Int16Array(10))).toBe(false);
    expect(client.sendDtmf('5')).toBe(false);
    await client.connect();
    expect(client.sendDtmf('55')).toBe(false);
    expect(client.sendDtmf('x')).toBe(false);
    expect(client.sendDtmf('#')).toBe(true);
    await waitFor(() => srv.received.length >= 2);
    expect(JSON.parse(at(srv.received, 1, 'received').subarray(1).toString())).toEqual({ type: 'dtmf', digit: '#' });
  });

  it('refuses audio while the socket is backed up, and counts it', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url, { maxBufferedBytes: -1 });
    await client.connect();
    expect(client.sendAudio(new Int16Array(480))).toBe(false);
    expect(client.stats.audioRefused).toBe(1);
    expect(client.stats.framesSent).toBe(1); // the configure only
  });

  it('answers with a structured error when a tool output cannot be serialised', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    await client.connect();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(client.sendToolResult('c1', 'lookup', cyclic)).toBe(true);
    expect(client.sendToolResult('c2', 'lookup', { ok: 1n })).toBe(true);
    expect(client.sendToolResult('', 'lookup', {})).toBe(false);
    await waitFor(() => srv.received.length >= 3);
    expect(JSON.parse(at(srv.received, 1, 'received').subarray(1).toString())).toEqual({
      type: 'tool_result',
      call_id: 'c1',
      name: 'lookup',
      output: { error: 'tool_failed: output is not serializable' },
    });
  });

  it('end() sends session_ending, then closes with 1000, once', async () => {
    const srv = await tinyServer();
    const client = makeClient(srv.url);
    const closes: number[] = [];
    client.on('close', (c) => closes.push(c));
    await client.connect();
    const { ws } = await srv.conn;
    const serverClose = new Promise<number>((r) => ws.on('close', (c) => r(c)));
    client.end();
    client.end();
    expect(await serverClose).toBe(1000);
    await waitFor(() => closes.length >= 1);
    const frames = srv.received.map((b) => JSON.parse(b.subarray(1).toString()).type);
    expect(frames).toEqual(['configure', 'session_ending']);
    expect(closes).toEqual([1000]);
  });

  it('end() drops the socket when the server never completes the close', async () => {
    const url = await rawServer((req, socket) => {
      // Complete the upgrade by hand, then ignore everything, including the close frame.
      const accept = createHash('sha1')
        .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
        .digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${req.headers['sec-websocket-protocol']}\r\n\r\n`,
      );
      socket.on('data', () => {});
    });
    const client = makeClient(url, { closeTimeoutMs: 100 });
    const closes: [number, string][] = [];
    client.on('close', (c, r) => closes.push([c, r]));
    await client.connect();
    const t0 = Date.now();
    client.end();
    await waitFor(() => closes.length >= 1);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(closes).toEqual([[1000, 'ended by client']]);
  });
});

describe('OmniClient connect failures', () => {
  it('times out when the upgrade never completes, without the key in the error', async () => {
    const url = await rawServer(() => {
      /* never answer */
    });
    const client = makeClient(url, { connectTimeoutMs: 150 });
    const closes: number[] = [];
    client.on('close', (c) => closes.push(c));
    const t0 = Date.now();
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 30));
    expect(closes).toEqual([1006]);
    expect(err).toBeInstanceOf(OmniConnectError);
    expect((err as OmniConnectError).kind).toBe('timeout');
    expect((err as Error).message).not.toContain(KEY);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('reports an HTTP refusal as non-retryable for 401, without the key', async () => {
    const url = await rawServer((_req, socket) => {
      socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Length: ${KEY.length}\r\n\r\n${KEY}`);
    });
    const client = makeClient(url);
    const closes: number[] = [];
    client.on('close', (c) => closes.push(c));
    const err = (await client.connect().catch((e: unknown) => e)) as OmniConnectError;
    await new Promise((r) => setTimeout(r, 30));
    expect(closes).toEqual([4401]);
    expect(err.kind).toBe('http');
    expect(err.status).toBe(401);
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain(KEY);
    expect(String(err.stack)).not.toContain(KEY);
  });

  it('reports a refused connection as retryable, without the key', async () => {
    const url = await rawServer(() => {});
    const port = new URL(url).port;
    while (cleanups.length) await cleanups.pop()!(); // server gone: the port now refuses
    const client = makeClient(`ws://127.0.0.1:${port}`);
    const err = (await client.connect().catch((e: unknown) => e)) as OmniConnectError;
    expect(err.kind).toBe('network');
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(KEY);
  });

  it('rejects a key that cannot travel in a subprotocol without echoing it', async () => {
    const client = makeClient('ws://127.0.0.1:9', { apiKey: 'bad key\nSECRETVALUE' });
    const err = (await client.connect().catch((e: unknown) => e)) as OmniConnectError;
    expect(err.kind).toBe('config');
    expect(err.message).not.toContain('SECRETVALUE');
  });

  it('end() during connect aborts it', async () => {
    const url = await rawServer(() => {});
    const client = makeClient(url, { connectTimeoutMs: 5000 });
    const p = client.connect();
    client.end();
    await expect(p).rejects.toMatchObject({ kind: 'aborted' });
    await expect(client.connect()).rejects.toThrow(/single-use/);
  });
});
