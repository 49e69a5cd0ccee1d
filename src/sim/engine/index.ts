/**
 * The offline Omni engine (§9 of the protocol): a WebSocket server that speaks the protocol exactly
 * — tags, keys, handshake, `audio_out`, barge-in, DTMF echo, session end — plus scripted tool calls,
 * engine verbs, errors and every close code on demand. Tests and the demo run against it.
 */
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Logger, silentLogger } from '../../observability/logger.js';
import { synthesize, type TtsResult } from '../../speech/tts.js';
import type { EngineSessionRecord } from './record.js';
import type { Scenario } from './scenario.js';
import { type EngineDialect, type EngineMode, EngineSession } from './session.js';
import { type PacingProfile, type Uniform, parsePacing } from './pacing.js';
import type { VadOptions } from './vad.js';

export { loadScenario, parseScenario, ScenarioError, type Scenario, type ScenarioStep } from './scenario.js';
export type { EngineSessionRecord } from './record.js';
export type { EngineDialect, EngineMode } from './session.js';
export { parsePacing, planChunks, type PacingProfile } from './pacing.js';

export interface EngineOptions {
  port?: number;
  host?: string;
  scenario?: Scenario;
  /**
   * Per-agent scenarios: a session on `/agent/<id>/v1/omni` runs `scenarios[id]` (scripted),
   * one on `/v1/omni` runs `scenario` (or the default mode). `agentUrl(id)` is that base URL.
   */
  scenarios?: Readonly<Record<string, Scenario>>;
  /** Agent audio rate; default: the session's input rate (or the scenario's output_rate). */
  outputRate?: number;
  /** Delay before the upgrade is answered, to imitate a distant engine. */
  connectDelayMs?: number;
  /** Speak configure.greeting as soon as configured (default true); false: never automatically. */
  greetingImmediately?: boolean;
  /** Default: 'scripted' with a scenario, else 'echo-agent'. */
  mode?: EngineMode;
  /** When set, a session must present this key (subprotocol or ?api_key=) or is closed with 4401. */
  apiKey?: string;
  logger?: Logger;
  tts?: (text: string) => Promise<TtsResult>;
  /** The event announcing barge-in. Default 'flush'. */
  bargeInEvent?: 'flush' | 'barge_in';
  vad?: VadOptions;
  /** How replies go on the wire (pacing.ts); default the scenario's, else 'realtime'. */
  pacing?: string | PacingProfile;
  /** Jitter source for the pacing (seeded in tests). */
  random?: Uniform;
  /** Default the scenario's, else 'standard'. */
  dialect?: EngineDialect;
  /** Keep every audio byte sent and received in the session records (for tests; memory grows with the calls). */
  recordAudio?: boolean;
}

export interface OfflineEngine {
  /** ws://host:port — a base URL for buildOmniUrl(). */
  url: string;
  /** the base URL whose sessions run `scenarios[agentId]` */
  agentUrl(agentId: string): string;
  port: number;
  sessions: EngineSessionRecord[];
  /** Every distinct violation of every session, as "callId: violation". */
  violations: string[];
  close(): Promise<void>;
}

const KEY_PROTOCOL = 'pyai-key.';
const RATES = new Set([8000, 16000, 24000]);
const MAX_PAYLOAD = 1024 * 1024;

function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['sec-websocket-protocol'];
  const offered = typeof header === 'string' ? header.split(',').map((p) => p.trim()) : [];
  const key = offered.find((p) => p.startsWith(KEY_PROTOCOL));
  return key ? key.slice(KEY_PROTOCOL.length) : (url.searchParams.get('api_key') ?? undefined);
}

export async function startOfflineEngine(opts: EngineOptions = {}): Promise<OfflineEngine> {
  if (
    opts.outputRate !== undefined &&
    !(Number.isInteger(opts.outputRate) && opts.outputRate >= 8000 && opts.outputRate <= 48000)
  ) {
    throw new RangeError(`offline engine: outputRate must be an integer in 8000..48000, got ${opts.outputRate}`);
  }
  const pacingSpec = opts.pacing ?? opts.scenario?.pacing;
  const pacing = typeof pacingSpec === 'string' ? parsePacing(pacingSpec) : pacingSpec;
  const dialect = opts.dialect ?? opts.scenario?.dialect ?? 'standard';
  const logger = opts.logger ?? silentLogger();
  const tts = opts.tts ?? ((text: string) => synthesize(text, logger));
  const mode: EngineMode = opts.mode ?? (opts.scenario ? 'scripted' : 'echo-agent');
  const sessions: EngineSessionRecord[] = [];
  const violations: string[] = [];
  const live = new Set<EngineSession>();
  const pending = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' }).end('the offline Omni engine speaks WebSocket on /v1/omni\n');
  });
  // The engine echoes the pyai-key.* subprotocol, as the real one does.
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_PAYLOAD,
    handleProtocols: (protocols) => [...protocols].find((p) => p.startsWith(KEY_PROTOCOL)) ?? false,
  });

  const accept = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    pending.delete(socket);
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  };

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path !== '/v1/omni' && !scenarioOfPath(path)) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    pending.add(socket);
    if (!opts.connectDelayMs) return accept(req, socket, head);
    const t = setTimeout(() => {
      timers.delete(t);
      accept(req, socket, head);
    }, opts.connectDelayMs);
    timers.add(t);
  });

  /** `/agent/<id>/v1/omni` → that agent's scenario; anything else (or an unknown id) → none. */
  const scenarioOfPath = (path: string): Scenario | undefined => {
    const id = /^\/agent\/([A-Za-z0-9_-]{1,64})\/v1\/omni$/.exec(path)?.[1];
    return id !== undefined && opts.scenarios && Object.hasOwn(opts.scenarios, id) ? opts.scenarios[id] : undefined;
  };

  const onConnection = (ws: WebSocket, req: IncomingMessage): void => {
    const url = new URL(req.url ?? '/', 'http://engine.invalid');
    const own = scenarioOfPath(url.pathname);
    const scenario = own ?? opts.scenario;
    const sessionMode: EngineMode = own ? 'scripted' : mode;
    const sessionPacing = own?.pacing && !opts.pacing ? parsePacing(own.pacing) : pacing;
    const rateText = url.searchParams.get('rate');
    const inputRate = rateText === null ? 24000 : Number(rateText);
    const format = url.searchParams.get('format');
    const callId = `offline-${randomUUID()}`;
    const outputRate = opts.outputRate ?? scenario?.output_rate ?? (RATES.has(inputRate) ? inputRate : 24000);
    const session = new EngineSession(ws, {
      callId,
      inputRate: RATES.has(inputRate) ? inputRate : 24000,
      outputRate,
      mode: sessionMode,
      sessionLabel: url.searchParams.get('session_label') ?? undefined,
      scenario,
      greetingImmediately: opts.greetingImmediately,
      bargeInEvent: opts.bargeInEvent ?? 'flush',
      vad: opts.vad,
      pacing: sessionPacing,
      random: opts.random,
      dialect: own ? (opts.dialect ?? own.dialect ?? 'standard') : dialect,
      recordAudio: opts.recordAudio,
      tts,
      logger,
      onViolation: (v) => violations.push(v),
    });
    sessions.push(session.record);
    live.add(session);
    ws.on('message', (data: Buffer, isBinary: boolean) => session.handleMessage(data, isBinary));
    ws.on('error', (err) => logger.debug({ callId, err: err.message }, 'offline engine socket error'));
    ws.on('close', (code, reason) => {
      session.dispose(code, reason.toString('utf8'), 'client');
      live.delete(session);
    });
    if (opts.apiKey !== undefined && presentedKey(req, url) !== opts.apiKey) {
      return session.closeWith(4401, 'invalid api key');
    }
    if (format !== null && format !== 'pcm16') {
      session.violate(`unsupported format "${format.slice(0, 16)}"`);
      return session.closeWith(1008, 'unsupported format');
    }
    if (!RATES.has(inputRate)) {
      session.violate(`unsupported rate "${String(rateText).slice(0, 16)}"`);
      return session.closeWith(1008, 'unsupported rate');
    }
    session.start();
  };

  // Speak-ready before the first call: a scenario's fixed lines are synthesized now (the voice
  // caches them), not between two replies, where the synthesis would be dead air on the line.
  for (const sc of [opts.scenario, ...Object.values(opts.scenarios ?? {})]) {
    for (const step of sc?.steps ?? []) if ('say' in step) await tts(step.say).catch(() => undefined);
  }
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  logger.info(
    {
      port,
      mode,
      outputRate: opts.outputRate,
      pacing: typeof pacingSpec === 'string' ? pacingSpec : pacingSpec ? 'custom' : 'realtime',
      dialect,
    },
    'offline Omni engine listening',
  );

  const url = `ws://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    agentUrl: (agentId) => `${url}/agent/${encodeURIComponent(agentId)}`,
    port,
    sessions,
    violations,
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of pending) s.destroy();
      for (const s of live) s.closeWith(1001, 'engine shutting down');
      // Give clients a moment to complete the closing handshake (they then see 1001, not 1006).
      const deadline = Date.now() + 250;
      while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
