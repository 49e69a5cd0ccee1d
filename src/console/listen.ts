/**
 * Listen-in for a supervisor (README "Operator console"): a WebSocket at
 * /console/api/calls/:sid/listen carrying one live call's audio, both directions (the format:
 * src/observability/listen-tap.ts). The upgrade is authenticated as every console request is:
 * the session cookie (the console's onRequest hook), the Origin (PUBLIC_URL's only: a WebSocket
 * is not bound by the same-origin policy, so this is the check that keeps another site's page
 * out) and the session's CSRF token, which a browser can only send in `Sec-WebSocket-Protocol`
 * (`opb-listen.v1, csrf.<token>`). A viewer-only session is refused. Bounded: MAX_PER_CALL
 * listeners on a call, MAX_PER_REPLICA on this process. Each listen is in the call's timeline and
 * its record (who, from when, how long).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { BridgeContext } from '../server/context.js';
import { sameSecret, type ConsoleSession } from './auth.js';
import type { EventStreams } from './sse.js';

export const LISTEN_PROTOCOL = 'opb-listen.v1';
const CSRF_PROTOCOL_PREFIX = 'csrf.';
/** Supervisors on one call at once: listening is for a few people, not a broadcast. */
export const MAX_LISTENERS_PER_CALL = 3;
/** Listen sockets on one process, all calls together (each costs a copy of a call's audio). */
export const MAX_LISTENERS_PER_REPLICA = 16;
const CALL_SID = /^CA[0-9a-fA-F]{32}$/;

export interface ListenDeps {
  ctx: BridgeContext;
  streams: EventStreams;
  sameOrigin: (req: FastifyRequest) => boolean;
  alive: (session: ConsoleSession) => boolean;
  refuse: (reply: FastifyReply, code: number, error: string, reason: string) => FastifyReply;
}

/** The CSRF token offered as a WebSocket subprotocol (`csrf.<token>`), if any. */
export function csrfFromProtocols(header: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(header) ? header.join(',') : (header ?? '');
  if (raw.length > 512) return undefined;
  for (const p of raw.split(',')) {
    const t = p.trim();
    if (t.startsWith(CSRF_PROTOCOL_PREFIX)) return t.slice(CSRF_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

/** The upgrade's checks, before any socket exists: each refusal is an HTTP status, counted. */
export function listenGuard(d: ListenDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const session = req.consoleSession!;
    if (!d.sameOrigin(req)) return d.refuse(reply, 403, 'cross-site request refused', 'bad_origin');
    const csrf = csrfFromProtocols(req.headers['sec-websocket-protocol']);
    if (csrf === undefined || !sameSecret(csrf, session.csrf))
      return d.refuse(reply, 403, 'missing or wrong CSRF token', 'bad_csrf');
    if (session.role === 'viewer') return d.refuse(reply, 403, 'listening in needs the operator role', 'forbidden');
    const sid = (req.params as { sid: string }).sid;
    const refusal = await admission(d.ctx, sid);
    if (refusal) return d.refuse(reply, refusal.code, refusal.error, refusal.reason);
    return undefined;
  };
}

async function admission(
  ctx: BridgeContext,
  sid: string,
): Promise<{ code: number; error: string; reason: string } | undefined> {
  const feed = CALL_SID.test(sid) ? ctx.feeds.get(sid) : undefined;
  if (!feed || !ctx.registry.get(sid)) {
    const remote = CALL_SID.test(sid) && (await ctx.calls.list()).calls.some((c) => c.callSid === sid);
    return remote
      ? {
          code: 409,
          error: "the call is on another replica: listen from that replica's console",
          reason: 'listen_remote',
        }
      : { code: 404, error: 'no such active call', reason: 'listen_no_call' };
  }
  if ((feed.tap?.listeners ?? 0) >= MAX_LISTENERS_PER_CALL)
    return { code: 429, error: `at most ${MAX_LISTENERS_PER_CALL} listeners on a call`, reason: 'listen_call_full' };
  if (ctx.feeds.listening() >= MAX_LISTENERS_PER_REPLICA)
    return {
      code: 429,
      error: `at most ${MAX_LISTENERS_PER_REPLICA} listeners on this replica`,
      reason: 'listen_replica_full',
    };
  return undefined;
}

/** The upgraded socket: joined to the call's tap, or closed if the call or the room went meanwhile. */
export function onListenSocket(d: ListenDeps, ws: WebSocket, req: FastifyRequest): void {
  const { ctx } = d;
  const session = req.consoleSession!;
  const sid = (req.params as { sid: string }).sid;
  const feed = ctx.feeds.get(sid);
  const call = ctx.registry.get(sid);
  // Checked again: concurrent upgrades all passed the guard before any joined.
  const full =
    !feed ||
    !call ||
    (feed.tap?.listeners ?? 0) >= MAX_LISTENERS_PER_CALL ||
    ctx.feeds.listening() >= MAX_LISTENERS_PER_REPLICA;
  if (full) {
    ctx.metrics.webhooksRejected.inc({ route: 'console', reason: feed && call ? 'listen_full' : 'listen_no_call' });
    ws.close(feed && call ? 1013 : 1000, feed && call ? 'too many listeners' : 'call ended');
    return;
  }
  const tap = feed.listenTap();
  const by = `console (${session.actor})`;
  const startedAt = Date.now();
  const stopRecord = call.record.listen(by);
  feed.timeline('listen', by, 'started');
  ctx.logger.info({ callSid: sid, by }, 'console: listen-in started');
  const closeForSession = () => ws.close(1008, 'session ended');
  d.streams.track(session.id, closeForSession);
  const expiry = setTimeout(closeForSession, Math.min(Math.max(0, session.expires - Date.now()), 2 ** 31 - 1));
  expiry.unref();
  tap.join(ws, (why) => {
    clearTimeout(expiry);
    d.streams.untrack(session.id, closeForSession);
    stopRecord();
    feed.timeline('listen', by, why, Date.now() - startedAt);
    feed.releaseTap(tap);
    ctx.logger.info({ callSid: sid, by, why, durationMs: Date.now() - startedAt }, 'console: listen-in ended');
  });
  // A listener only listens: anything it sends ends its socket (nothing of it reaches the call).
  ws.on('message', () => ws.close(1008, 'a listener sends nothing'));
  ws.on('close', () => tap.leave(ws, 'stopped'));
  ws.on('error', () => tap.leave(ws, 'socket_error'));
  if (!d.alive(session)) ws.close(1008, 'session ended');
}
