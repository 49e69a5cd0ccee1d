/**
 * The HTTP listener's time and connection limits (`bridge.http`), in one place: the Fastify and
 * Node server options, the connection cap lowered to what the descriptor limit leaves room for,
 * and the handler that counts requests cut for arriving too slowly.
 *
 * Node checks the header and request deadlines of in-flight requests every
 * `connectionsCheckingInterval` (30 s by default, far too coarse for a 10 s deadline); an
 * upgraded socket (a live media stream) has left Node's request tracking and is never cut by them.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { BridgeSettings } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { ConnectionGuard, sourceKey, type ConnectionLimits } from './connection-guard.js';
import { RejectionLog } from './stream-guard.js';

export type HttpSettings = BridgeSettings['http'];

/** Descriptors kept for everything that is not an accepted connection (files, Redis, listeners). */
const FD_MARGIN = 64;

/** The soft limit of open files from /proc/self/limits (Node raised it to the hard one at start), or undefined. */
export function openFileLimit(text?: string): number | undefined {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(t);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
}

export interface ResolvedConnectionLimits extends ConnectionLimits {
  /** set when max_connections was lowered to fit the descriptor limit */
  loweredFrom?: number;
  fdLimit?: number;
}

/**
 * The connection caps in force. Every accepted connection may be a call's media socket, and
 * every call also holds an engine socket: half of what the descriptor limit leaves after the
 * margin is the most connections that cannot run the process out of descriptors. The reserve
 * shrinks with the cap (at most a quarter of it), so unproven connections always get some room.
 */
export function connectionLimits(
  h: HttpSettings,
  fdLimit: number | undefined,
  behindProxy: boolean,
): ResolvedConnectionLimits {
  const ceiling = fdLimit === undefined ? Infinity : Math.max(16, Math.floor((fdLimit - FD_MARGIN) / 2));
  const max = Math.min(h.max_connections, ceiling);
  const reserved = Math.min(h.reserved_connections, Math.floor(max / 4));
  return {
    max,
    reserved,
    perSource: behindProxy ? 0 : h.max_connections_per_source,
    ...(max < h.max_connections ? { loweredFrom: h.max_connections } : {}),
    ...(fdLimit !== undefined ? { fdLimit } : {}),
  };
}

/** why the listener cut a connection it had accepted */
export type CutReason = 'request_timeout' | 'idle_timeout' | 'client_error';

/** how often Node checks the request deadlines: a quarter of the headers deadline, 100 ms to 1 s */
function checkingInterval(h: HttpSettings): number {
  return Math.max(100, Math.min(1000, Math.floor(h.headers_timeout_ms / 4)));
}

/** Fastify's options for these limits (its own defaults: no request deadline, 72 s keep-alive). */
export function fastifyTimeouts(h: HttpSettings) {
  return {
    requestTimeout: h.request_timeout_ms,
    keepAliveTimeout: h.keep_alive_timeout_ms,
    // No inactivity timeout: the console's event streams are idle for long stretches.
    connectionTimeout: 0,
    http: {
      headersTimeout: h.headers_timeout_ms,
      requestTimeout: h.request_timeout_ms,
      connectionsCheckingInterval: checkingInterval(h),
    },
  };
}

/**
 * Fastify's `clientErrorHandler`: a request whose headers or body did not arrive in time gets
 * 408 and its socket is closed, counted as `request_timeout`; other malformed requests get 400
 * (`client_error`). As Fastify's default does, minus the JSON body.
 */
export function clientErrorHandler(count: (reason: CutReason, socket: Socket) => void) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const timeout = err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
    // Node's checker also cuts a connection that never sent a byte: that one is idle, not slow.
    count(timeout ? (socket.bytesRead === 0 ? 'idle_timeout' : 'request_timeout') : 'client_error', socket);
    const status = timeout ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.write(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  };
}

/**
 * A connection that sends nothing at all: Node 20's connection checker cuts it at the headers
 * deadline (clientErrorHandler counts it as `idle_timeout`). This is the backstop for a runtime
 * whose checker does not track a connection before its first byte: cut when no request has
 * started `ms` plus two checking intervals after it connected. A plain timer, later than Node's
 * deadline so a request that began but dribbles is Node's to cut with 408; `socket.setTimeout`
 * raced with the checker. From the first request on, the deadlines, keep-alive and ws (for an
 * upgrade) own the socket.
 */
function cutSilentConnections(server: Server, ms: number, checkEveryMs: number, onCut: (socket: Socket) => void): void {
  const silent = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(
      () => {
        silent.delete(socket);
        if (socket.destroyed) return;
        onCut(socket);
        socket.destroy();
      },
      ms + 2 * checkEveryMs,
    );
    timer.unref();
    silent.set(socket, timer);
    socket.once('close', () => spoke(socket));
  });
  const spoke = (socket: Socket) => {
    const timer = silent.get(socket);
    if (!timer) return;
    silent.delete(socket);
    clearTimeout(timer);
  };
  server.on('request', (req: IncomingMessage) => spoke(req.socket));
  server.on('upgrade', (req: IncomingMessage) => spoke(req.socket));
}

/**
 * The listener's connection guard, switched on: each refusal counted by reason and logged at
 * most once a second per reason (the next line says how many were left out).
 */
export function guardConnections(
  server: Server,
  h: HttpSettings,
  behindProxy: boolean,
  metrics: Metrics,
  logger: Logger,
): { guard: ConnectionGuard; countCut: (reason: CutReason, socket: Socket) => void } {
  const limits = connectionLimits(h, openFileLimit(), behindProxy);
  if (limits.loweredFrom !== undefined)
    logger.warn(
      { max_connections: limits.max, configured: limits.loweredFrom, fdLimit: limits.fdLimit },
      'bridge.http.max_connections lowered to fit the open-file limit',
    );
  if (behindProxy)
    logger.info('TRUST_PROXY_HOPS is set: no per-source connection cap (every connection comes from the proxy)');
  const log = new RejectionLog(() => logger);
  const note = (reason: string, source: string | undefined) => {
    metrics.httpConnectionsRefused.inc({ reason });
    log.warn(reason, { reason, source }, 'http connection refused or cut');
  };
  const guard = new ConnectionGuard(limits, note);
  guard.attach(server);
  // The gauge reads the guard's own books at scrape time: what is held, not what clients think.
  metrics.heldConnections.unproven = () => guard.unprovenCount;
  metrics.heldConnections.proven = () => guard.provenCount;
  cutSilentConnections(server, h.headers_timeout_ms, checkingInterval(h), (socket) =>
    note('idle_timeout', sourceKey(socket.remoteAddress)),
  );
  return { guard, countCut: (reason, socket) => note(reason, sourceKey(socket.remoteAddress)) };
}
