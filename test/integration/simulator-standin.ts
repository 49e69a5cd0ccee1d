import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { startTwilioSimulator, type HumanBehaviour, type TwilioSimulator } from '../../src/sim/twilio/index.js';
import { verifyMediaUpgrade, verifyWebhook } from '../../src/twilio/signature.js';

/**
 * A tiny stand-in for the bridge, for the simulator's integration tests: it checks every
 * signature, answers webhooks with per-path TwiML and hands each media socket to the test.
 */

export const TOKEN = 'sim-test-token-7d3f0a9c';
export const ACCOUNT = 'AC11111111111111111111111111111111';
export const PUBLIC_URL = 'https://bridge.test';

export interface Webhook {
  path: string;
  params: Record<string, string>;
  sigOk: boolean;
}

type Json = Record<string, any>;

export class StandInSocket {
  readonly messages: Json[] = [];
  readonly times: number[] = [];
  private waiters: { pred: (m: Json) => boolean; resolve: (m: Json) => void }[] = [];

  constructor(
    readonly ws: WebSocket,
    readonly sigOk: boolean,
    readonly path: string,
  ) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(String(data)) as Json;
      this.messages.push(m);
      this.times.push(performance.now());
      for (const w of [...this.waiters]) {
        if (w.pred(m)) {
          this.waiters = this.waiters.filter((x) => x !== w);
          w.resolve(m);
        }
      }
    });
  }

  get streamSid(): string {
    return this.messages.find((m) => m.event === 'start')?.streamSid;
  }

  /** Resolves with the first message (already received or future) matching pred. */
  waitFor(pred: (m: Json) => boolean, timeoutMs = 5000): Promise<Json> {
    const seen = this.messages.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for a message')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(t);
          resolve(m);
        },
      });
    });
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  media(payloadB64: string): void {
    this.send({ event: 'media', streamSid: this.streamSid, media: { payload: payloadB64 } });
  }

  mark(name: string): void {
    this.send({ event: 'mark', streamSid: this.streamSid, mark: { name } });
  }

  clear(): void {
    this.send({ event: 'clear', streamSid: this.streamSid });
  }
}

export interface StandIn {
  url: string;
  webhooks: Webhook[];
  sockets: StandInSocket[];
  /** TwiML per path (path without query); a function gets the form params */
  routes: Record<string, string | ((p: Record<string, string>) => string)>;
  onSocket: (s: StandInSocket) => void;
  close(): Promise<void>;
}

export async function startStandIn(routes: StandIn['routes'] = {}): Promise<StandIn> {
  const wss = new WebSocketServer({ noServer: true });
  const standIn: StandIn = {
    url: '',
    webhooks: [],
    sockets: [],
    routes,
    onSocket: () => {},
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const path = req.url ?? '/';
      const sigOk = verifyWebhook(
        TOKEN,
        PUBLIC_URL,
        path,
        params,
        req.headers['x-twilio-signature'] as string | undefined,
      );
      standIn.webhooks.push({ path, params, sigOk });
      const route = standIn.routes[path.split('?')[0]!];
      if (!sigOk || route === undefined) {
        res.writeHead(sigOk ? 404 : 403).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(typeof route === 'function' ? route(params) : route);
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const sigOk = verifyMediaUpgrade(
      TOKEN,
      PUBLIC_URL,
      req.url ?? '/',
      req.headers['x-twilio-signature'] as string | undefined,
    );
    if (!sigOk || req.url?.includes('refuse')) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const s = new StandInSocket(ws, sigOk, req.url ?? '');
      standIn.sockets.push(s);
      standIn.onSocket(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.close = async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  return standIn;
}

/** `<Connect><Stream>` to the stand-in's media path, with parameters. */
export function streamTwiml(params: Record<string, string> = {}, after = ''): string {
  const p = Object.entries(params)
    .map(([k, v]) => `<Parameter name="${k}" value="${v}"/>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://bridge.test/twilio/media">${p}</Stream></Connect>${after}</Response>`;
}

/** base64 μ-law of `ms` of a loud 1 kHz-ish square-free tone (values alternate, clearly audible). */
export function toneB64(ms: number): string {
  const n = ms * 8;
  const buf = Buffer.alloc(n);
  // μ-law bytes for a sine of ~±8000: a simple 4-sample cycle at 2 kHz.
  const cycle = [0xff, 0xa0, 0xff, 0x20];
  for (let i = 0; i < n; i++) buf[i] = cycle[i % 4]!;
  return buf.toString('base64');
}

/**
 * For a test file: `setup(routes, human?)` starts a stand-in and a simulator calling it; both are
 * closed after each test.
 */
export function simulatorAgainstStandIn(): (
  routes: StandIn['routes'],
  human?: HumanBehaviour,
) => Promise<{ standIn: StandIn; sim: TwilioSimulator }> {
  let standIn: StandIn | undefined;
  let sim: TwilioSimulator | undefined;
  afterEach(async () => {
    await sim?.close();
    await standIn?.close();
    sim = undefined;
    standIn = undefined;
  });
  return async (routes, human) => {
    standIn = await startStandIn(routes);
    sim = await startTwilioSimulator({
      bridgeUrl: standIn.url,
      publicUrl: PUBLIC_URL,
      accountSid: ACCOUNT,
      authToken: TOKEN,
      ...(human ? { human } : {}),
    });
    return { standIn, sim };
  };
}
