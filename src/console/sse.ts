import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FeedEvent } from '../observability/call-events.js';
import type { BridgeContext } from '../server/context.js';
import { listCalls } from './calls-adapter.js';

/** Open event streams, all sessions together: each costs a socket and a listener. */
const MAX_STREAMS = 32;
/** A watcher this far behind (bytes queued) is cut off rather than buffered without bound. */
const MAX_QUEUED_BYTES = 1 << 20;
const HEARTBEAT_MS = 15_000;

/** The open event streams of one console (one bridge): bounded in number, closed with their session. */
export class EventStreams {
  open = 0;
  private readonly bySession = new Map<string, Set<() => void>>();

  track(session: string, close: () => void): void {
    let set = this.bySession.get(session);
    if (!set) this.bySession.set(session, (set = new Set()));
    set.add(close);
  }

  untrack(session: string, close: () => void): void {
    const set = this.bySession.get(session);
    set?.delete(close);
    if (set?.size === 0) this.bySession.delete(session);
  }

  /** Ends every stream of a session (logout, expiry, eviction) at once. */
  closeSession(session: string): void {
    for (const close of [...(this.bySession.get(session) ?? [])]) close();
    this.bySession.delete(session);
  }
}

/**
 * Server-Sent Events for the console: a snapshot of the calls, then their starts, ends, states and
 * levels; with `call`, also that call's backlog and its transcript, timeline and latency events.
 */
export function openEventStream(
  req: FastifyRequest,
  reply: FastifyReply,
  ctx: BridgeContext,
  o: { streams: EventStreams; call?: string; session: { id: string; expires: number }; alive: () => boolean },
): void {
  if (o.streams.open >= MAX_STREAMS) {
    void reply.code(429).send({ error: 'too many open event streams' });
    return;
  }
  o.streams.open++;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'",
    connection: 'keep-alive',
  });
  let closed = false;
  const send = (data: unknown) => {
    if (closed) return;
    if (res.writableLength > MAX_QUEUED_BYTES) return close();
    res.write(`data: ${JSON.stringify(data)}\n\n`);
  };
  // The snapshot (fleet-wide: it may wait on the store) comes first; live events queue behind it.
  const pending: FeedEvent[] = [];
  let ready = false;
  void listCalls(ctx)
    .then(
      (list) => list,
      () => ({ calls: [], partial: true }),
    )
    .then((list) => {
      send({ kind: 'snapshot', ...list });
      const backlog = new Set(o.call ? (ctx.feeds.get(o.call)?.history() ?? []) : []);
      for (const ev of backlog) send(ev);
      ready = true;
      for (const ev of pending.splice(0)) if (!backlog.has(ev)) send(ev); // published while the list was read: once
    });
  const wanted = (ev: FeedEvent) =>
    ev.kind === 'started' ||
    ev.kind === 'ended' ||
    ev.kind === 'state' ||
    ev.kind === 'levels' ||
    ev.kind === 'stuck' ||
    ev.kind === 'reload' ||
    ('callSid' in ev && ev.callSid === o.call);
  const unsubscribe = ctx.feeds.subscribe((ev) => {
    if (!wanted(ev)) return;
    if (ready) send(ev);
    else if (pending.length < 1000) pending.push(ev);
  });
  const heartbeat = setInterval(() => {
    if (!o.alive()) return close(); // the session expired or logged out
    res.write(': keepalive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  // The stream ends with its session: at logout (closeSession) and when it expires.
  const expiry = setTimeout(close, Math.min(Math.max(0, o.session.expires - Date.now()), 2 ** 31 - 1));
  expiry.unref();
  o.streams.track(o.session.id, close);
  function close(): void {
    if (closed) return;
    closed = true;
    o.streams.open--;
    clearInterval(heartbeat);
    clearTimeout(expiry);
    o.streams.untrack(o.session.id, close);
    unsubscribe();
    res.end();
  }
  req.raw.on('close', close);
  res.on('error', close);
}
