import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BridgeContext } from '../server/context.js';
import type { FleetHistorySource } from '../server/calls/history.js';
import type { ReloadResult } from '../server/reload.js';
import { isLoopbackOrigin } from '../config/loader.js';
import { QuietLog, retryAfterSeconds, SourceBackoff } from '../server/security/source-backoff.js';
import { roleAllows } from '../server/security/roles.js';
import type { MountExtras } from '../server/app.js';
import { registerToolPages } from './tools.js';
import { ConsoleSessions, readCookie, sameSecret, SESSION_COOKIE, type ConsoleSession } from './auth.js';
import { endRevoked, roleNeeded, signIn, stillInForce } from './access.js';
import { hangupCall, listCalls, transferCall, type ActionResult } from './calls-adapter.js';
import { EventStreams, openEventStream } from './sse.js';
import { listenGuard, onListenSocket, type ListenDeps } from './listen.js';
import { maskForPage } from '../observability/redact.js';

/** The page's files: beside this module in src/ (tsx) and in dist/ (scripts/build.mjs copies them). */
export const CONSOLE_PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');

/** Assets a browser may load before logging in; everything else needs a session. */
const PUBLIC_ASSETS = new Set(['/console/assets/login.js', '/console/assets/style.css']);

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

/** A reload's result for a page: no diff object (it holds full numbers), the message masked. */
interface PageReload {
  ok: boolean;
  message: string;
  at: string;
}

function pageReload(r: ReloadResult): PageReload {
  return { ok: r.ok, message: maskForPage(r.ok ? r.summary : r.error), at: r.at };
}

/** What the bridge tells a console it registered: a key the change feed heard revoked (or, undefined, maybe some). */
export interface ConsoleHandle {
  keyRevoked(keyId: string | undefined): void;
}

/**
 * The operator console at /console (README "Operator console"): login with ADMIN_TOKEN, or with
 * the control plane (`keys`) any API key in force (access.ts), for an HttpOnly SameSite=Strict
 * session cookie; pages and assets only with a session, every POST checked for its Origin, the
 * session's CSRF token and its role. Without ADMIN_TOKEN or a control plane nothing is
 * registered and every /console path is a 404. The tools and agents page is tools.ts: with the
 * control plane, its /v1 routes under the session's key (extras.v1).
 */
export async function registerConsole(
  app: FastifyInstance,
  ctx: BridgeContext,
  extras: MountExtras = {},
): Promise<ConsoleHandle | undefined> {
  const keys = extras.keys;
  const adminToken = ctx.config.env.adminToken;
  if (!adminToken && !keys) return undefined;
  const sessions = new ConsoleSessions();
  // Wrong logins back off per source, never globally, and a right token always gets in (decisions.md).
  const backoff = new SourceBackoff();
  const refusedLog = new QuietLog((f) => ctx.logger.warn(f, 'console login refused: wrong token'));
  const streams = new EventStreams();
  // A session's event streams end with it (logout, expiry, eviction), not at the next heartbeat.
  sessions.onEnd = (id) => streams.closeSession(id);
  const secure = ctx.config.env.publicUrl.startsWith('https:');
  // With the control plane the sign-in field asks for an API key too (the same page otherwise).
  const keyLogin = keys
    ? readFileSync(join(CONSOLE_PUBLIC_DIR, 'login.html'), 'utf8').replace('>Admin token<', '>API key or admin token<')
    : undefined;

  const refuse = (reply: FastifyReply, code: number, error: string, reason: string) => {
    ctx.metrics.webhooksRejected.inc({ route: 'console', reason });
    return reply.code(code).type('application/json').send({ error });
  };

  const origins = allowedOrigins(ctx.config.env.publicUrl);
  /**
   * Same-origin requests only: the Origin a browser sends must be PUBLIC_URL's, never whatever the
   * Host header says (a rebound DNS name sends its own Host and Origin alike).
   */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    return typeof origin === 'string' && origins.has(origin);
  };

  /** the last reload's result (any source), as a page may see it, for a page opened afterwards */
  let lastReload: PageReload | null = null;
  // Every reload — SIGHUP, the admin API, the console — is announced to the pages that watch.
  const reload = ctx.reloadConfig.bind(ctx);
  ctx.reloadConfig = async (source) => {
    const r = await reload(source);
    lastReload = pageReload(r);
    ctx.feeds.publish({ kind: 'reload', ok: r.ok, message: lastReload.message, at: r.at });
    return r;
  };

  await app.register(async (scope) => {
    scope.addHook('onSend', async (_req, reply, payload) => {
      void reply.header('content-security-policy', CSP);
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('referrer-policy', 'no-referrer');
      void reply.header('x-frame-options', 'DENY');
      void reply.header('cache-control', 'no-store');
      return payload;
    });
    scope.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0]!;
      if (path === '/console/login' || PUBLIC_ASSETS.has(path)) return;
      let session = sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE));
      // A revoked key's session ends at its next request, whether or not the revocation was heard.
      try {
        if (session && !(await stillInForce(session, keys))) {
          sessions.end(session.id);
          session = undefined;
        }
      } catch {
        return refuse(reply, 503, 'the control plane database does not answer; retry', 'database_unavailable');
      }
      if (!session) {
        if (path === '/console' || path === '/console/') {
          // A link to one call (a transfer's context webhook) survives the login: only a CallSid is carried.
          const call = new URLSearchParams(req.url.split('?')[1] ?? '').get('call');
          return reply.redirect(
            call && /^CA[0-9a-f]{32}$/.test(call) ? `/console/login?call=${call}` : '/console/login',
            303,
          );
        }
        return refuse(reply, 401, 'login required', 'no_session');
      }
      req.consoleSession = session;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        if (!sameOrigin(req)) return refuse(reply, 403, 'cross-site request refused', 'bad_origin');
        const csrf = req.headers['x-csrf-token'];
        if (typeof csrf !== 'string' || !sameSecret(csrf, session.csrf))
          return refuse(reply, 403, 'missing or wrong CSRF token', 'bad_csrf');
        // What the page offers follows the role, and so does what the server accepts (a forged POST too).
        const needed = roleNeeded(req.method, path);
        if (needed && !roleAllows(session.role, needed))
          return refuse(reply, 403, `this needs the ${needed} role; this session is ${session.role}`, 'forbidden');
      }
    });

    await scope.register(fastifyStatic, {
      root: CONSOLE_PUBLIC_DIR,
      prefix: '/console/assets/',
      index: false,
      wildcard: false,
    });

    scope.get('/console', async (_req, reply) => reply.type('text/html').sendFile('index.html'));
    scope.get('/console/login', async (_req, reply) =>
      keyLogin ? reply.type('text/html').send(keyLogin) : reply.type('text/html').sendFile('login.html'),
    );

    scope.post('/console/login', async (req, reply) => {
      if (!sameOrigin(req)) return refuse(reply, 403, 'cross-site request refused', 'bad_origin');
      const token = (req.body as { token?: unknown } | undefined)?.token;
      // The token is checked first (hashed, constant time): a right one is never refused by the
      // backoff, whoever else shares its source address.
      const opened =
        typeof token === 'string' && token.length <= 512 ? await signIn(token, adminToken, keys) : undefined;
      if (opened === 'unavailable')
        return refuse(reply, 503, 'the control plane database does not answer; retry', 'database_unavailable');
      if (!opened) {
        refusedLog.note({ ip: req.ip });
        const wait = backoff.refused(req.ip);
        if (wait > 0) {
          void reply.header('retry-after', retryAfterSeconds(wait));
          return refuse(reply, 429, 'too many failed logins from this address; wait and retry', 'login_rate');
        }
        return refuse(reply, 401, 'wrong token', 'bad_login');
      }
      const s = sessions.create(opened.role, opened.actor, opened.key);
      ctx.logger.info({ ip: req.ip, by: s.actor, role: s.role }, 'console login');
      const cookie = `${SESSION_COOKIE}=${s.id}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${8 * 3600}${secure || req.protocol === 'https' ? '; Secure' : ''}`;
      return reply.code(204).header('set-cookie', cookie).send();
    });

    scope.post('/console/logout', async (req, reply) => {
      sessions.end(req.consoleSession?.id);
      return reply
        .code(204)
        .header('set-cookie', `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`)
        .send();
    });

    scope.get('/console/api/session', async (req) => ({
      csrf: req.consoleSession!.csrf,
      role: req.consoleSession!.role,
      actor: req.consoleSession!.actor,
      agents: [...new Set([...ctx.config.file.agents.map((a) => a.id)])],
      lastReload,
    }));

    scope.get('/console/api/calls', async () => listCalls(ctx));

    scope.get('/console/api/events', (req, reply) => {
      const call = (req.query as { call?: unknown }).call;
      openEventStream(req, reply, ctx, {
        streams,
        call: typeof call === 'string' && /^CA[0-9a-fA-F]{32}$/.test(call) ? call : undefined,
        session: req.consoleSession!,
        alive: () => sessions.get(req.consoleSession!.id) !== undefined,
      });
    });

    /** An accepted action answered, and audited under the session's key (its name and id, never its secret). */
    const act = async (
      req: FastifyRequest,
      reply: FastifyReply,
      r: ActionResult,
      action: string,
      extra: Record<string, unknown> = {},
    ) => {
      const key = req.consoleSession!.key;
      if (r.status < 300 && keys && key) {
        const sid = (req.params as { sid: string }).sid.slice(0, 64);
        await keys
          .audit(key, action, `call:${sid}`, { ...r.body, ...extra, via: 'console' })
          .catch((err: { code?: string }) =>
            ctx.logger.warn({ code: err.code ?? 'error', action }, 'console: the audit row was not written'),
          );
      }
      return reply.code(r.status).send(r.body);
    };
    /** who asked, as the call's record and timeline name them (with a key, its name: 'console (desk-1)') */
    const byOf = (req: FastifyRequest) =>
      req.consoleSession!.key ? `console (${req.consoleSession!.actor})` : 'console';

    scope.post('/console/api/calls/:sid/hangup', async (req, reply) => {
      const sid = (req.params as { sid: string }).sid.slice(0, 64);
      ctx.logger.info({ callSid: sid, by: byOf(req) }, 'console: hang-up');
      return act(req, reply, await hangupCall(ctx, sid, byOf(req)), 'call.hangup');
    });

    scope.post('/console/api/calls/:sid/transfer', async (req, reply) => {
      const sid = (req.params as { sid: string }).sid.slice(0, 64);
      const target = (req.body as { target?: unknown } | undefined)?.target;
      if (typeof target !== 'string' || target.length > 64)
        return reply.code(400).send({ error: 'target (a transfer target name) is required' });
      ctx.logger.info({ callSid: sid, target, by: byOf(req) }, 'console: transfer');
      return act(req, reply, await transferCall(ctx, sid, target, byOf(req)), 'call.transfer', { target });
    });

    // Listen-in: a WebSocket of the call's audio (src/console/listen.ts), authenticated as a POST is.
    const listen: ListenDeps = {
      ctx,
      streams,
      sameOrigin,
      alive: (s) => sessions.get(s.id) !== undefined,
      refuse,
    };
    scope.get(
      '/console/api/calls/:sid/listen',
      { websocket: true, preValidation: listenGuard(listen) },
      (socket, req) => onListenSocket(listen, socket, req),
    );

    scope.get('/console/api/history', async (req) => {
      const q = req.query as Record<string, unknown>;
      const str = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 64 ? v : undefined);
      const num = (v: unknown) => (typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : undefined);
      const query = {
        outcome: str(q.outcome),
        agent: str(q.agent),
        suffix: str(q.suffix),
        callSid: str(q.callSid),
        since: str(q.since),
        until: str(q.until),
        limit: num(q.limit),
        offset: num(q.offset),
      };
      // Health at a glance: calls in progress per agent on this replica (live view's own count)
      const activeByAgent = Object.fromEntries(
        ctx.registry
          .list()
          .reduce((m, s) => m.set(s.agent.id, (m.get(s.agent.id) ?? 0) + 1), new Map<string, number>()),
      );
      const fleet = await readFleet(ctx, async (h) => {
        const [page, summary] = await Promise.all([h.page(query), h.summary()]);
        return { scope: 'fleet', ...page, summary, activeByAgent };
      });
      // Without a shared database of records (or while it does not answer), a replica knows its own calls only: the page says so.
      return (
        fleet ?? {
          scope: 'replica',
          ...ctx.history.page(query),
          summary: ctx.history.summary(),
          activeByAgent,
        }
      );
    });

    scope.get('/console/api/history/:sid', async (req, reply) => {
      const sid = (req.params as { sid: string }).sid;
      if (!/^(CA[0-9a-fA-F]{32}|SIP[0-9a-f]{32})$/.test(sid))
        return reply.code(404).send({ error: 'no record of this call' });
      const fleet = await readFleet(ctx, async (h) => {
        const d = await h.detail(sid);
        return d ? { scope: 'fleet', call: d } : null;
      });
      if (fleet) return fleet;
      const d = ctx.history.detail(sid);
      if (d) return { scope: 'replica', call: d };
      return reply
        .code(404)
        .send({ error: fleet === null ? 'no record of this call' : 'no record of this call on this replica' });
    });

    await registerToolPages(scope, ctx, extras.v1);

    scope.post('/console/api/config/reload', async (_req, reply) => {
      const r = await ctx.reloadConfig('console');
      return reply.code(r.ok ? 200 : 422).send(pageReload(r));
    });
  });
  return {
    keyRevoked: (keyId) => {
      if (!keys) return;
      // a failed sweep leaves each request's own check to end the session
      void endRevoked(sessions, keys, keyId).catch(() => undefined);
    },
  };
}

/**
 * The Origins a console request may come from: PUBLIC_URL's only. When PUBLIC_URL is a loopback
 * origin (the default http://localhost:PORT, the tests), its other loopback spellings with the
 * same scheme and port too (localhost, 127.0.0.1, [::1]): no other site's page can send those, so
 * DNS rebinding (which sends the attacker's name) still fails.
 */
export function allowedOrigins(publicUrl: string): Set<string> {
  const u = new URL(publicUrl);
  const out = new Set([u.origin]);
  if (isLoopbackOrigin(publicUrl)) {
    const port = u.port ? `:${u.port}` : '';
    for (const host of ['localhost', '127.0.0.1', '[::1]']) out.add(`${u.protocol}//${host}${port}`);
  }
  return out;
}

/**
 * The fleet's history when there is one: its answer, null when it has no such call, undefined
 * without a database or while it does not answer (then the replica's own history serves, and says so).
 */
async function readFleet<T>(
  ctx: BridgeContext,
  read: (h: FleetHistorySource) => Promise<T | null>,
): Promise<T | null | undefined> {
  if (!ctx.fleetHistory) return undefined;
  try {
    return await read(ctx.fleetHistory);
  } catch (err) {
    ctx.logger.warn(
      { code: (err as { code?: string }).code ?? 'error' },
      "console: the call history database did not answer; showing this replica's calls",
    );
    return undefined;
  }
}
