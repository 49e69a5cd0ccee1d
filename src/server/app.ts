import { ContextWebhooks } from '../control/context-webhook.js';
import { parse as parseQuery } from 'node:querystring';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { generateDefaultHold } from '../audio/index.js';
import { IntervalPaceClock } from '../call/pace-clock.js';
import type { LoadedConfig } from '../config/loader.js';
import type { AgentConfig, ConfigFile } from '../config/schema.js';
import { warnKeylessEngines } from '../omni/key-policy.js';
import { CallFeedHub } from '../observability/call-events.js';
import { CallHistory } from './calls/history.js';
import { loadAgentSet } from './agent-set.js';
import { ConfigReloader } from './reload.js';
import type { CallRecord } from '../call/record.js';
import type { Logger } from '../observability/logger.js';
import { SocketTuning } from '../net/socket-tuning.js';
import { describeFastPaths, probeFastPaths } from '../net/fast-path-probe.js';
import { WriteCoalescer } from '../net/write-coalescer.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createTwilioRest, type TwilioRest } from '../twilio/rest.js';
import type { ToolRegistry } from '../tools/registry.js';
import { McpManager } from '../tools/mcp/manager.js';
import { createMcpMetrics } from '../tools/mcp/metrics.js';
import type { BridgeContext } from './context.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIvrRoutes } from './routes/ivr.js';
import { MAX_MEDIA_MESSAGE_BYTES, registerMediaRoute } from './routes/media.js';
import { CallRegistry } from './calls/registry.js';
import { registerVoiceRoutes } from './routes/voice.js';
import { registerWarmRoutes } from './routes/warm.js';
import { restMissingWarning } from './startup-notes.js';
import { registerAdminRoutes } from './routes/admin.js';
import { registerFormOnly } from './routes/form-only.js';
import { clientErrorHandler, fastifyTimeouts, guardConnections } from './security/http-limits.js';
import { websocketErrorHandler } from './security/ws-errors.js';
import { StreamTokens, streamTokenSecret } from '../twilio/stream-token.js';
import { randomBytes } from 'node:crypto';
import type { FleetStore } from '../store/fleet-store.js';
import type { StoreEnv } from '../store/open-store.js';
import { openFleet } from './fleet-setup.js';
import { FleetCalls } from './calls/fleet-calls.js';
import { moveCalls } from './calls/drain-move.js';
import { SipServer } from '../sip/server.js';
import { sipNonceSecret } from '../sip/nonce-secret.js';
import { openControlPlane, type ControlPlane } from '../control-plane/control-plane.js';
import { consoleV1, registerControlPlaneApi, type ConsoleV1 } from '../control-plane/api.js';
import { consoleKeys, type ConsoleKeys } from '../control-plane/console-keys.js';
import { callConfig, DATABASE_SOURCE, logCallConfigSource } from '../control-plane/call-config.js';
import { coalesced, type ChangeFeed } from '../control-plane/change-feed.js';
import { openCallHistorySink, type CallHistorySink } from '../control-plane/call-history-sink.js';
import { FleetHistory } from '../control-plane/fleet-history.js';
import { readConfigFile } from '../config/loader.js';
import { version } from '../cli-args.js';
import { startTracing, type Tracing } from '../observability/tracing.js';

/** The longest a stop waits for the last spans to be exported: a dead collector must not hold it. */
const TRACE_FLUSH_MS = 2000;

async function boundedShutdown(tracing: Tracing): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([tracing.shutdown(), new Promise<void>((r) => (timer = setTimeout(r, TRACE_FLUSH_MS).unref()))]);
  clearTimeout(timer);
}

/** How long a stop lets in-flight requests finish before their connections are cut. */
const HTTP_CLOSE_GRACE_MS = 3000;

/**
 * `app.close()` waits for every request in flight and every open keep-alive socket; a webhook
 * still being answered (its engine not ready) or a peer that keeps its socket would hold the stop
 * for ever. After the grace, what is left is cut.
 */
async function boundedClose(app: FastifyInstance): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closing = app.close();
  const cut = new Promise<void>((r) => {
    timer = setTimeout(() => {
      app.server.closeAllConnections();
      r();
    }, HTTP_CLOSE_GRACE_MS);
    timer.unref();
  });
  await Promise.race([closing, cut.then(() => closing)]);
  clearTimeout(timer);
}

export interface BridgeOptions {
  config: LoadedConfig;
  logger: Logger;
  /** the engine's base URL (the offline engine's, when no key is configured) */
  engineBaseUrl: string;
  /** an agent's own engine base URL (the offline engine's per-agent scenarios), else engineBaseUrl */
  engineBaseUrlFor?: (agentId: string) => string | undefined;
  /** where finished call records go (JSON lines); default: the logger */
  onCallRecord?: (r: CallRecord) => void;
  metrics?: Metrics;
  rest?: TwilioRest;
  /** the fleet store; default: Redis when REDIS_URL is set, else in-process */
  store?: FleetStore;
  /** REDIS_URL, REDIS_KEY_PREFIX, REPLICA_ID; default: the process environment */
  storeEnv?: StoreEnv;
  /** the control plane (tests); default: opened from DATABASE_URL when it is set, else none */
  controlPlane?: ControlPlane;
  /** call traces; default: from the OTLP variables of the configuration's environment (off when unset) */
  tracing?: Tracing;
  /**
   * routes a layer above the server adds (the console: src/bridge.ts), registered with the
   * server's own; it is told of API keys the change feed hears revoked
   */
  mount?: (app: FastifyInstance, ctx: BridgeContext, extras: MountExtras) => Promise<Mounted | undefined>;
}

/** What the server hands a mounted layer beside its context. */
export interface MountExtras {
  /** the control plane's API keys for a console sign-in (DATABASE_URL only) */
  keys?: ConsoleKeys;
  /** the control plane's tool, agent and audit routes, to mount under the console's session (DATABASE_URL only) */
  v1?: ConsoleV1;
}

/** What a mounted layer answers: told of a key revoked (its id), or of maybe some (undefined) after the feed reconnected. */
export interface Mounted {
  keyRevoked(keyId: string | undefined): void;
}

export interface Bridge {
  app: FastifyInstance;
  ctx: BridgeContext;
  /** stop taking calls, let active ones finish (bounded), then fall back for the rest */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  /** the agents' MCP servers (src/tools/mcp/manager.ts) */
  mcp: McpManager;
  /** transfers' context webhook deliveries (src/control/context-webhook.ts) */
  contextWebhooks: ContextWebhooks;
  /** the SIP listener, when SIP_PORT is set (its `port` is the bound one) */
  sip?: SipServer;
  /** the control plane on PostgreSQL, when DATABASE_URL is set */
  controlPlane?: ControlPlane;
  /** call traces (NO_TRACING when no OTLP endpoint is set) */
  tracing: Tracing;
  /** the fleet's call history writer, with the control plane */
  callHistory?: CallHistorySink;
}

export async function buildServer(opts: BridgeOptions): Promise<Bridge> {
  const env = opts.config.env;
  // First: a database that does not answer stops the start before anything else is opened.
  const controlPlane =
    opts.controlPlane ?? (env.databaseUrl ? await openControlPlane(env, { logger: opts.logger }) : undefined);
  try {
    return await assemble(opts, controlPlane);
  } catch (err) {
    // a failed start leaves nothing open: the pool this start opened goes too
    if (controlPlane && !opts.controlPlane) await controlPlane.close().catch(() => undefined);
    throw err;
  }
}

async function assemble(opts: BridgeOptions, controlPlane: ControlPlane | undefined): Promise<Bridge> {
  const { logger } = opts;
  // With the control plane, calls run from the database's agents, numbers and tools (call-config.ts).
  const startCall = controlPlane ? await callConfig(controlPlane, opts.config.file, opts.config.file) : undefined;
  if (startCall) logCallConfigSource(startCall, logger);
  const config: LoadedConfig = startCall ? { ...opts.config, file: startCall.file } : opts.config;
  const settings = config.file.bridge;
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const env = config.env;

  const rest =
    opts.rest ??
    (env.twilioAccountSid && env.twilioAuthToken
      ? createTwilioRest({
          accountSid: env.twilioAccountSid,
          authToken: env.twilioAuthToken,
          apiBase: env.twilioApiBase,
          logger,
        })
      : undefined);
  if (!rest) logger.warn(restMissingWarning(env));
  if (env.skipSignatureValidation) {
    logger.error(
      '!!! TWILIO_SIGNATURE_VALIDATION=off: Twilio signatures are NOT checked. Development only — never in production !!!',
    );
  } else if (!env.twilioAuthToken) {
    logger.error('TWILIO_AUTH_TOKEN is not set: every Twilio request will be refused (403) until it is');
  }
  if (settings.tool_allow_hosts.length) {
    logger.warn(
      { hosts: settings.tool_allow_hosts },
      'tool webhook allow-list is set: these hosts bypass the SSRF rules (development only)',
    );
  }

  // The agents in force; a reload replaces the set (reload.ts). A session keeps its agent object,
  // and its tools are looked up by that object, so a call keeps the tools it started with.
  const setOptions = { env: process.env, allowHosts: settings.tool_allow_hosts, logger };
  let current = await loadAgentSet(config.file, {
    ...setOptions,
    env: { ...process.env, ...startCall?.env },
    baseDir: config.baseDir,
  });
  // Per-agent metric labels come from the configuration in force, never from a request.
  metrics.callLabels.use(() => current.file);
  // MCP servers are opened and listed in the background: neither start-up nor a call waits for them.
  const mcp = McpManager.create(config.file.agents, { ...setOptions, metrics: createMcpMetrics(metrics.registry) });
  const toolsByAgent = new WeakMap<AgentConfig, ToolRegistry>(current.tools);
  // Said at start and at each reload: an agent engine that will not get the Omni key (key-policy.ts).
  const keySource = { baseUrl: opts.engineBaseUrl, apiKey: env.pyaiApiKey, keyHosts: env.pyaiKeyHosts };
  const warnKeyless = (file: ConfigFile) => warnKeylessEngines(file.agents, keySource, logger);
  warnKeyless(config.file);
  const feeds = new CallFeedHub(undefined, undefined, settings.console_stuck_after_s * 1000);
  // A record without Twilio's Direction (its stream arrived without a pre-connect): told by our numbers.
  const history = new CallHistory(1000, () => Object.keys(ctx.config.file.numbers));
  const defaultHold = generateDefaultHold(8000);
  const sockets = new SocketTuning(
    settings.write_coalesce_ms > 0 ? new WriteCoalescer({ maxHoldMs: settings.write_coalesce_ms }) : undefined,
    settings.shared_read_buffer,
  );
  // Both fast paths read private fields of Node and ws: say once whether they are in use.
  const fastPaths = await probeFastPaths(settings.shared_read_buffer);
  for (const path of ['shared_read', 'ws_fast_receive'] as const)
    metrics.fastPathActive.set({ path }, fastPaths[path].active ? 1 : 0);
  logger.info({ fastPaths }, describeFastPaths(fastPaths));

  // Stream tokens: every replica sharing STREAM_TOKEN_SECRET (or the Twilio auth token it is
  // derived from) verifies the others' tokens. Without either, a random per-process key: streams
  // then only verify on the process that answered the webhook.
  const derivedSecret = streamTokenSecret(env.streamTokenSecret, env.twilioAuthToken);
  let tokenSecret = derivedSecret;
  if (!tokenSecret) {
    logger.warn('neither STREAM_TOKEN_SECRET nor TWILIO_AUTH_TOKEN is set: stream tokens use a random per-process key');
    tokenSecret = randomBytes(32);
  }
  const streamTokens = new StreamTokens(tokenSecret, settings.media_stream.token_ttl_s * 1000);

  const tracing = opts.tracing ?? (await startTracing(env.otel, logger));
  const paceClock = new IntervalPaceClock();
  // Deliveries run beside the calls, bounded; a stop ends the ones in flight.
  const contextWebhooks = new ContextWebhooks({
    env: { ...process.env, ...startCall?.env },
    allowHosts: settings.tool_allow_hosts,
    logger: logger.child({ component: 'context-webhook' }),
    count: (agent, outcome) => metrics.transferContext.inc({ agent, outcome }),
    countRetry: (agent) => metrics.transferContextRetries.inc({ agent }),
  });
  const store = await openFleet(config, logger, metrics, opts.store, opts.storeEnv);
  // With the control plane, every finished call's record also goes to the fleet's history (off the call's path).
  const callHistory = controlPlane
    ? openCallHistorySink(controlPlane, {
        replica: store.replicaId,
        retentionDays: settings.history.retention_days,
        bufferRecords: settings.history.buffer_records,
        logger,
        metrics,
      })
    : undefined;
  const registry = new CallRegistry(
    {
      settings,
      engine: {
        ...keySource,
        rate: env.omniRate,
        ...(opts.engineBaseUrlFor ? { baseUrlFor: opts.engineBaseUrlFor } : {}),
      },
      publicUrl: env.publicUrl,
      toolsFor: (agent) => mcp.toolSetFor(agent.id, toolsByAgent.get(agent)),
      holdFor: (id) => current.holds.get(id) ?? defaultHold,
      transferContext: { sender: contextWebhooks, publicUrl: env.publicUrl },
      paceClock,
      streamTokens,
      rest,
      sockets,
      logger,
      metrics,
      feeds,
      tracing,
    },
    (r) => {
      history.add(r);
      // the direction told as the replica's own history tells it (the table keeps no whole number to tell it by)
      callHistory?.add(r.direction ? r : { ...r, direction: history.directionOf(r) });
      reloader.sweep();
      (opts.onCallRecord ?? ((x: typeof r) => logger.info({ callRecord: x }, 'call record')))(r);
    },
    store,
    settings.fleet.lease_s * 1000,
  );
  const calls = new FleetCalls(registry, store, settings.fleet.control_timeout_ms, logger);

  const reloader = new ConfigReloader({
    current: () => ({ config: ctx.config, set: current }),
    apply: (next, set) => {
      // First: it throws on an invalid MCP server before anything changes (src/tools/mcp/manager.ts).
      mcp.reconcile(next.file.agents);
      for (const [agent, reg] of set.tools) toolsByAgent.set(agent, reg);
      current = set;
      ctx.config = next;
      warnKeyless(next.file);
    },
    agentsInUse: () => registry.list().map((s) => s.agent),
    agentSetOptions: setOptions,
    logger,
    // the database's agents and tools over the file's bridge: (a change heard, or a file reload)
    ...(controlPlane
      ? {
          read: (source: string, inForce: LoadedConfig) => {
            // a file reload reads the file again (its bridge: policies, and its agents while the database has none)
            const file =
              source === DATABASE_SOURCE ? opts.config.file : readConfigFile(inForce.env.configPath, process.env);
            return callConfig(controlPlane, source === DATABASE_SOURCE ? inForce.file : file, file);
          },
        }
      : {}),
  });
  const ctx: BridgeContext = {
    ...(controlPlane
      ? { controlPlaneHealth: () => controlPlane.health(), fleetHistory: new FleetHistory(controlPlane.pool) }
      : {}),
    config,
    settings,
    logger,
    metrics,
    registry,
    rest,
    sockets,
    draining: false,
    streamTokens,
    feeds,
    history,
    reloadConfig: (source) => reloader.reload(source),
    agent: (id) => (id ? current.agents.get(id) : undefined),
    agentForNumber: (to) => {
      const file = current.file;
      const route = to ? file.numbers[to] : undefined;
      return current.agents.get(route?.agent ?? file.default_agent) ?? current.agents.get(file.default_agent)!;
    },
    atCapacity: () => registry.size >= settings.max_concurrent_calls,
    admit: async (callSid) => {
      if (registry.size >= settings.max_concurrent_calls) return false;
      const fleetMax = settings.fleet.max_concurrent_calls;
      if (!store.shared || fleetMax === undefined) return true;
      // Store unreachable: this replica's own limit decides (the error is counted).
      return (await store.claimSlot(callSid, fleetMax)) ?? true;
    },
    calls,
    preconnect: (info, resume) => registry.preconnect(info, resume),
    attachStream: (callSid, claims, handle) => registry.attachStream(ctx, callSid, claims, handle),
  };

  // Only the configured proxy hops may set the client address (per-IP limits, logs): an
  // X-Forwarded-For from anyone else is ignored, so it cannot dodge the limiter.
  const hops = env.trustProxyHops;
  // Slow requests are cut and counted (408); who may hold connections is the guard's (http-limits.ts).
  let countCut: ReturnType<typeof guardConnections>['countCut'] = () => {};
  const app = Fastify({
    bodyLimit: 64 * 1024,
    trustProxy: (_addr: string, hop: number) => hop < hops,
    ...fastifyTimeouts(settings.http),
    clientErrorHandler: clientErrorHandler((reason, socket) => countCut(reason, socket)),
  });
  const connections = guardConnections(app.server, settings.http, hops > 0, metrics, logger);
  countCut = connections.countCut;
  ctx.connections = connections.guard;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseQuery(body as string));
  });
  registerFormOnly(app, metrics);
  await app.register(websocket, {
    // Pings are answered by the media route, within the socket's budget (media-route.ts), not by ws.
    options: { maxPayload: MAX_MEDIA_MESSAGE_BYTES, autoPong: false },
    errorHandler: websocketErrorHandler(logger),
  });
  app.setErrorHandler((err: { statusCode?: number; message?: string }, req, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    metrics.webhooksRejected.inc({ route: req.routeOptions?.url ?? 'unknown', reason: `http_${code}` });
    if (code === 500) logger.error({ err: err.message, route: req.routeOptions?.url }, 'request failed');
    void reply
      .code(code)
      .type('text/plain')
      .send(code === 500 ? 'Internal Server Error' : 'Bad Request');
  });
  registerHealthRoutes(app, ctx);
  registerVoiceRoutes(app, ctx);
  registerIvrRoutes(app, ctx);
  registerWarmRoutes(app, ctx);
  registerMediaRoute(app, ctx);
  registerAdminRoutes(app, ctx);
  // with the control plane, what the console needs of its API keys (sign-in, revocations, audit)
  const mounted = await opts.mount?.(app, ctx, {
    ...(controlPlane
      ? {
          keys: consoleKeys(controlPlane.keys, controlPlane.pool),
          v1: consoleV1(controlPlane, {
            logger,
            allowHosts: settings.tool_allow_hosts,
            countRefusal: (reason) => metrics.webhooksRejected.inc({ route: 'console_v1', reason }),
          }),
        }
      : {}),
  });
  if (controlPlane)
    await registerControlPlaneApi(app, controlPlane, {
      logger,
      allowHosts: settings.tool_allow_hosts,
      countRefusal: (reason) => metrics.webhooksRejected.inc({ route: 'v1', reason }),
      version: version(),
      calls: {
        hangup: (sid, by) => ctx.calls.hangup(sid, by),
        transfer: (sid, destination, by) => ctx.calls.transfer(sid, destination, by),
      },
    });

  let sip: SipServer | undefined;
  if (env.sip) {
    const nonce = sipNonceSecret(derivedSecret);
    if (!nonce.derived)
      logger.warn('neither STREAM_TOKEN_SECRET nor TWILIO_AUTH_TOKEN is set: SIP digest nonces use a per-process key');
    if (!config.file.sip?.trunks.length)
      logger.warn('SIP_PORT is set but the configuration has no sip.trunks: every INVITE is dropped unanswered');
    const started = SipServer.start({
      env: env.sip,
      clock: paceClock,
      logger: logger.child({ component: 'sip' }),
      onDrop: (reason) => metrics.sipDropped.inc({ reason }),
      nonceSecret: nonce.secret,
      host: {
        get draining() {
          return ctx.draining;
        },
        atCapacity: () => ctx.atCapacity(),
        admit: (callSid) => ctx.admit(callSid),
        file: () => current.file,
        agent: (id) => current.agents.get(id),
        fallbackAudio: (id) => current.fallbacks.get(id),
        startCall: (info, legFor) => registry.startRinging(info, legFor),
      },
    });
    sip = await started.catch(async (err: unknown) => {
      // a bridge that cannot listen for SIP leaves nothing open behind it
      await app.close();
      await mcp.close();
      registry.stop();
      if (!opts.store) await store.close();
      await callHistory?.close();
      throw err;
    });
  }

  // Every replica reloads within a second of a committed change (LISTEN/NOTIFY), and after it
  // reconnects; a burst of changes makes at most two reloads (change-feed.ts).
  const feed: ChangeFeed | undefined = controlPlane
    ? await controlPlane.watch(
        coalesced(() => reloader.reload(DATABASE_SOURCE)),
        (keyId) => mounted?.keyRevoked(keyId),
      )
    : undefined;

  return {
    app,
    ctx,
    mcp,
    tracing,
    contextWebhooks,
    ...(sip ? { sip } : {}),
    ...(controlPlane ? { controlPlane } : {}),
    ...(callHistory ? { callHistory } : {}),
    async drain(timeoutMs) {
      ctx.draining = true;
      logger.info({ active: registry.size, timeoutMs }, 'draining: new calls are refused');
      // In a fleet, live calls move to other replicas now rather than run out the drain timeout.
      if (store.shared && registry.size > 0) {
        await new Promise((r) => setTimeout(r, settings.fleet.drain_move_after_ms));
        await moveCalls(ctx);
      }
      const clean = await registry.whenEmpty(timeoutMs);
      if (!clean) {
        const left = registry.list();
        logger.warn({ calls: left.length }, 'drain timeout: running the fallback for remaining calls');
        await Promise.all(left.map((s) => s.control.giveUp('drain')));
      }
    },
    async close() {
      ctx.draining = true;
      feeds.stop();
      for (const s of registry.list()) s.end('shutdown');
      await sip?.close();
      await boundedClose(app);
      await mcp.close();
      contextWebhooks.close();
      registry.stop();
      // A store the caller gave (tests) is the caller's to close; so is a control plane.
      if (!opts.store) await store.close();
      await feed?.stop();
      // the calls just ended above have their records in the buffer: a last bounded write
      await callHistory?.close();
      if (controlPlane && !opts.controlPlane) await controlPlane.close();
      // the last spans go out if the collector answers in time; a given tracing is the giver's
      if (!opts.tracing) await boundedShutdown(tracing);
    },
  };
}
