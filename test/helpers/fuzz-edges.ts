/**
 * The bridge's edges, driven by the fuzz tests: signed media sockets fed hostile frames, an
 * engine that answers with garbage, random HTTP requests (well-framed and raw), and a tracker of
 * the timers and sockets a test leaves behind.
 */
import { createHook } from 'node:async_hooks';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { parseTwilioMessage } from '../../src/twilio/messages.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { ACCOUNT_SID, AUTH_TOKEN, type Harness } from './harness.js';
import { Rng, mutateObject, randomJson, weirdString } from './fuzz.js';
import {
  omniServerFrame,
  startMessage,
  streamIds,
  twilioFrame,
  type TwilioFrameState,
  type WireFrame,
} from './fuzz-frames.js';
import { testToken } from './tokens.js';

/** The admin token of the fuzzed bridges (random requests present it, right or wrong). */
export const ADMIN_TOKEN = testToken('fuzz admin');

/**
 * Timers, sockets and servers created from now on and not yet gone (async_hooks: a timer is
 * destroyed when it fires or is cleared, a socket when it closes). `sleep` waits on a timer of
 * its own that is not tracked.
 */
export function trackResources(): { live(): string[]; sleep(ms: number): Promise<void>; stop(): void } {
  const kinds = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP']);
  const live = new Map<number, string>();
  let untracked = false;
  const hook = createHook({
    init(id, type) {
      if (untracked || !kinds.has(type)) return;
      live.set(
        id,
        process.env.FUZZ_STACKS ? `${type} ${new Error().stack?.split('\n').slice(5, 12).join(' | ')}` : type,
      );
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    live: () => [...live.values()],
    sleep(ms) {
      untracked = true;
      try {
        return new Promise((r) => setTimeout(r, ms));
      } finally {
        untracked = false;
      }
    },
    stop: () => hook.disable(),
  };
}

// ---------------------------------------------------------------------------------------------
// (a) the Twilio media socket

export function openMedia(h: Harness): Promise<WebSocket> {
  const port = new URL(h.bridgeUrl).port;
  const sig = signTwilioRequest(AUTH_TOKEN, `wss://127.0.0.1:${port}/twilio/media`);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/twilio/media`, {
    headers: { 'x-twilio-signature': sig },
    perMessageDeflate: false,
  });
  ws.on('error', () => {
    /* the bridge may close on us (oversize frame): expected */
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

async function sendAll(ws: WebSocket, frames: WireFrame[]): Promise<void> {
  for (let i = 0; i < frames.length; i += 200) {
    if (ws.readyState !== WebSocket.OPEN) return;
    for (const f of frames.slice(i, i + 200)) ws.send(f.data, { binary: f.binary });
    // Bounded in flight, and the event loop breathes between batches (the healthy call runs here too).
    while (ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 64 * 1024)
      await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setImmediate(r));
  }
}

/** The frames of one fuzz connection, and how many of them the bridge must certainly reject. */
function mediaScript(rng: Rng, count: number): { frames: WireFrame[]; certainRejects: number; ending: string } {
  const ids = streamIds(rng);
  const st: TwilioFrameState = { ids, seq: 1, chunk: 0, ts: 0 };
  const frames: WireFrame[] = [];
  let certainRejects = 0;
  const style = rng.pick(['started', 'started', 'started', 'started', 'no_start', 'odd_start', 'odd_start']);
  frames.push({ data: JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }), binary: false });
  if (style === 'started') {
    frames.push({ data: JSON.stringify(startMessage(rng, ids)), binary: false });
  } else if (style === 'odd_start') {
    const start = startMessage(
      rng,
      ids,
      '1',
      rng.chance(0.5) ? { agent: weirdString(rng), to: weirdString(rng) } : undefined,
    );
    const inner = start.start as Record<string, unknown>;
    // the stream id is echoed in every message the bridge sends: make it hostile
    const sid = rng.pick([weirdString(rng), 'MZ"quoted"', 'MZ\u00e9t\u00e9', 'MZ\ud83d\ude00', 'MZ\\', 'MZ</x>']);
    if (sid) {
      start.streamSid = sid;
      inner.streamSid = sid;
      ids.streamSid = sid;
    }
    if (rng.chance(0.3)) mutateObject(rng, start);
    frames.push({ data: JSON.stringify(start), binary: false });
  }
  while (frames.length < count) {
    const f = twilioFrame(rng, st);
    if (!f.binary) {
      const parsed = parseTwilioMessage(f.data as string);
      // a valid stop ends the stream: it is sent last, on purpose, never by accident mid-way
      if (parsed.ok && parsed.msg.event === 'stop' && parsed.msg.streamSid === ids.streamSid) continue;
      if (!parsed.ok) certainRejects++;
    } else {
      certainRejects++;
    }
    frames.push(f);
  }
  // Without a valid start the bridge closes the socket at the first other message:
  // what follows is never read, so only a started stream's bad frames are certain rejections.
  if (style !== 'started') certainRejects = 0;
  const ending = rng.pick(['stop_then_more', 'close', 'terminate', 'oversize', 'stop']);
  if (ending === 'stop' || ending === 'stop_then_more') {
    frames.push({
      data: JSON.stringify({
        event: 'stop',
        sequenceNumber: String(++st.seq),
        streamSid: ids.streamSid,
        stop: { accountSid: ids.accountSid, callSid: ids.callSid },
      }),
      binary: false,
    });
  }
  if (ending === 'oversize')
    frames.push({ data: JSON.stringify({ event: 'media', pad: 'x'.repeat(70 * 1024) }), binary: false });
  if (ending === 'stop_then_more') {
    for (let i = 0; i < 5; i++) frames.push({ data: JSON.stringify(startMessage(rng, ids)), binary: false });
  }
  return { frames, certainRejects, ending };
}

export async function runMediaConnection(
  h: Harness,
  rng: Rng,
  count: number,
): Promise<{ sent: number; certainRejects: number }> {
  const script = mediaScript(rng, count);
  const ws = await openMedia(h);
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  await sendAll(ws, script.frames);
  if (script.ending === 'terminate') ws.terminate();
  else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
  return { sent: script.frames.length, certainRejects: script.certainRejects };
}

// ---------------------------------------------------------------------------------------------
// (b) a hostile engine

const TERMINAL = /session_end|end_call|transfer_to_human/;

export interface HostileEngine {
  url: string;
  sessions: number;
  framesSent: number;
  open(): number;
  close(): Promise<void>;
}

/**
 * An engine that answers the bridge's configure with garbage: random tags, broken JSON, events
 * with wrong types, verbs with absurd arguments, odd-length audio, then a random close code.
 */
export async function hostileEngine(rng: Rng, framesPerSession: number): Promise<HostileEngine> {
  const server = http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: (p) => [...p][0] ?? false });
  const state = { sessions: 0, framesSent: 0 };
  wss.on('connection', (ws) => {
    state.sessions++;
    ws.on('error', () => {});
    let started = false;
    const mayEnd = rng.chance(0.3);
    ws.on('message', () => {
      if (started) return;
      started = true; // the first message is the configure: answer it with chaos
      void (async () => {
        if (rng.chance(0.7)) ws.send(Buffer.from('\u0003{"event":"configured","audio_out":"pcm16@16000"}'));
        for (let i = 0; i < framesPerSession && ws.readyState === WebSocket.OPEN; i++) {
          const f = omniServerFrame(rng);
          // Most sessions never send a verb that ends the call, so they deliver all their garbage.
          if (!mayEnd && TERMINAL.test(f.data.toString('latin1'))) continue;
          ws.send(f.data, { binary: f.binary });
          state.framesSent++;
          if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
        }
        if (ws.readyState !== WebSocket.OPEN) return;
        const code = rng.pick([1000, 1001, 1006, 1011, 4429, 1008, 4401, 4403, 4000, 0]);
        if (code === 1006) ws.terminate();
        else if (code !== 0) ws.close(code, weirdString(rng).slice(0, 30));
        // 0: stay open and silent; the call ends from the Twilio side
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `ws://127.0.0.1:${port}`,
    get sessions() {
      return state.sessions;
    },
    get framesSent() {
      return state.framesSent;
    },
    open: () => wss.clients.size,
    close() {
      closing ??= (async () => {
        for (const c of wss.clients) c.terminate();
        await new Promise((r) => wss.close(r));
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (c) HTTP

/** encodeURIComponent throws on lone surrogates: those become a plain marker instead. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%EF%BF%BD';
  }
}

const CALL_POOL = Array.from({ length: 4 }, (_, i) => `CA${String(i).repeat(32)}`);

export interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

function formBody(rng: Rng): Record<string, string | string[]> {
  const p: Record<string, unknown> = {
    CallSid: rng.chance(0.8) ? rng.pick(CALL_POOL) : rng.pick([`CA${rng.hex(32)}`, 'CA123', weirdString(rng)]),
    AccountSid: rng.chance(0.85) ? ACCOUNT_SID : rng.pick([`AC${rng.hex(32)}`, '', weirdString(rng)]),
    From: rng.pick(['+15557654321', 'anonymous', weirdString(rng)]),
    To: rng.pick(['+15550001111', '+15550002222', '+15550003333', '+1', weirdString(rng)]),
    CallStatus: rng.pick(['ringing', 'in-progress', 'completed', 'busy', 'failed', weirdString(rng)]),
    Direction: 'inbound',
    SequenceNumber: rng.pick(['0', '1', '7', '999999999', '-1', '1e3']),
    DialCallStatus: rng.pick(['completed', 'busy', 'no-answer', 'failed', 'canceled', weirdString(rng)]),
    Digits: rng.pick(['1', '2', '0', '9', '', '#', '12345678901234567890123456789012345', weirdString(rng)]),
  };
  const n = rng.int(4);
  for (let i = 0; i < n; i++) mutateObject(rng, p);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined) continue;
    const text = (x: unknown): string => (typeof x === 'string' ? x : (JSON.stringify(x) ?? 'null'));
    out[k] = Array.isArray(v) ? v.map(text) : text(v);
  }
  return out;
}

function encodeForm(form: Record<string, string | string[]>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(form))
    for (const x of Array.isArray(v) ? v : [v]) parts.push(`${enc(k)}=${enc(x)}`);
  return parts.join('&');
}

function headerValue(rng: Rng): string {
  // printable only: the HTTP client itself refuses CR/LF (raw sockets cover those)
  return weirdString(rng)
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 200);
}

export function httpCase(rng: Rng, publicUrl: string): HttpCase {
  const sid = rng.chance(0.7) ? rng.pick(CALL_POOL) : enc(weirdString(rng)) || 'x';
  const route = rng.pick([
    ['POST', '/twilio/voice'],
    ['POST', '/twilio/voice'],
    ['POST', '/twilio/status'],
    ['POST', '/twilio/status'],
    ['POST', `/twilio/dial-action?agent=${rng.pick(['support', 'sales', 'nobody'])}&target=${enc(weirdString(rng))}`],
    [
      'POST',
      `/twilio/ivr?to=${enc(rng.pick(['+15550002222', '+15550001111', weirdString(rng)]))}&attempt=${rng.pick(['1', '2', '3', '99', '-5', 'x', '1e309'])}`,
    ],
    ['GET', '/twilio/media'],
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['GET', '/admin/calls'],
    ['POST', `/admin/calls/${sid}/hangup`],
    ['POST', `/admin/calls/${sid}/transfer`],
    ['GET', `/${enc(weirdString(rng))}`],
    ['POST', '/twilio/voice/../voice'],
    ['GET', '/twilio/voice?x=%zz'],
  ] as const);
  const method = rng.chance(0.9) ? route[0] : rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  let body: Buffer | undefined;
  let form: Record<string, string | string[]> | undefined;
  const bodyKind = rng.int(10);
  if (method !== 'GET' && method !== 'HEAD') {
    if (bodyKind < 6) {
      form = formBody(rng);
      body = Buffer.from(encodeForm(form));
      headers['content-type'] = rng.chance(0.9)
        ? 'application/x-www-form-urlencoded'
        : rng.pick(['application/x-www-form-urlencoded; charset=utf-16', 'text/plain']);
    } else if (bodyKind < 8) {
      body = Buffer.from(rng.chance(0.8) ? (JSON.stringify(randomJson(rng)) ?? 'null') : '{"destination":');
      headers['content-type'] = rng.pick(['application/json', 'application/json; charset=latin1', 'text/plain']);
    } else if (bodyKind < 9) {
      body = rng.bytes(rng.pick([0, 10, 1000, 70 * 1024]));
      headers['content-type'] = rng.pick([
        'application/octet-stream',
        'multipart/form-data; boundary=zz',
        'application/xml',
        'a/b;;;=',
        'application/x-www-form-urlencoded',
      ]);
    } else {
      body = Buffer.from(`${'a='.repeat(rng.int(3))}${'%'.repeat(rng.int(3))}${'&'.repeat(rng.int(40))}`);
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
  }
  const signed = rng.chance(0.5);
  if (signed) headers['x-twilio-signature'] = signTwilioRequest(AUTH_TOKEN, publicUrl + route[1], form ?? {});
  else if (rng.chance(0.5))
    headers['x-twilio-signature'] = rng.chance(0.5) ? headerValue(rng) : rng.bytes(20).toString('base64');
  if (rng.chance(0.4))
    headers.authorization = rng.pick([
      `Bearer ${ADMIN_TOKEN}`,
      `Bearer ${ADMIN_TOKEN}x`,
      `Bearer ${ADMIN_TOKEN.slice(0, -1)}`,
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      headerValue(rng),
    ]);
  if (rng.chance(0.2)) headers['x-forwarded-for'] = rng.pick(['1.2.3.4', '::1', headerValue(rng), '1.1.1.1, 2.2.2.2']);
  if (rng.chance(0.2))
    headers[rng.pick(['x-junk', 'accept', 'accept-encoding', 'x-forwarded-proto', 'x-forwarded-host', 'cookie'])] =
      headerValue(rng);
  return { method, path: route[1], headers, body };
}

export function send(agent: http.Agent, base: URL, c: HttpCase): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    // An explicit length: for DELETE/OPTIONS Node would otherwise send the body unframed, which
    // the server rightly reads as the next (garbage) request on the connection.
    const headers = c.body ? { ...c.headers, 'content-length': String(c.body.length) } : c.headers;
    const req = http.request(
      { host: base.hostname, port: base.port, method: c.method, path: c.path, headers, agent, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => resolve({ status: -1, body: String(err) }));
      },
    );
    req.on('error', (err) => resolve({ status: -1, body: String(err) }));
    req.on('timeout', () => req.destroy());
    req.end(c.body);
  });
}

/** Malformed HTTP on a raw socket: the server answers or closes; it never hangs or falls over. */
export function rawRequest(port: number, text: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      resolve(out);
    };
    const t = setTimeout(done, 500);
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(text));
  });
}

export function rawCase(rng: Rng): string | Buffer {
  return rng.pick<string | Buffer>([
    'GARBAGE\r\n\r\n',
    'POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\nabc',
    'POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /twilio/status HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nabc\r\n',
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    'GET /healthz HTTP/1.1\r\nHo\u0000st: x\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n',
    'GET /admin/calls HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u00ff\u00fe\r\n\r\n',
    'GET /twilio/media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n\r\n',
    'GET /twilio/media HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Twilio-Signature: AAAA\r\n\r\n',
    'GET / HTTP/9.9\r\n\r\n',
    'GET /healthz\r\n\r\n',
    `POST /twilio/voice HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nCallSid=CA`,
    rng.bytes(rng.int(2000)),
  ]);
}
