import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { generateDefaultHold, readWav, StreamResampler } from '../audio/index.js';
import { IntervalPaceClock } from '../call/pace-clock.js';
import type { LoadedConfig } from '../config/loader.js';
import type { AgentConfig } from '../config/schema.js';
import type { CallRecord } from '../call/record.js';
import type { Logger } from '../observability/logger.js';
import { SocketTuning } from '../net/socket-tuning.js';
import { describeFastPaths, probeFastPaths } from '../net/fast-path-probe.js';
import { WriteCoalescer } from '../net/write-coalescer.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createTwilioRest, type TwilioRest } from '../twilio/rest.js';
import { ToolRegistry } from '../tools/registry.js';
import type { BridgeContext } from './context.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerIvrRoutes } from './ivr-routes.js';
import { MAX_MEDIA_MESSAGE_BYTES, registerMediaRoute } from './media-route.js';
import { CallRegistry } from './registry.js';
import { registerVoiceRoutes } from './voice-routes.js';
import { registerAdminRoutes } from './admin-routes.js';
import { websocketErrorHandler } from './ws-errors.js';
import { StreamTokens, streamTokenSecret } from './stream-token.js';
import { randomBytes } from 'node:crypto';
import { hangupTwiml } from '../twilio/twiml.js';

export interface BridgeOptions {
  config: LoadedConfig;
  logger: Logger;
  /** the engine's base URL (the offline engine's, when no key is configured) */
  engineBaseUrl: string;
  /** where finished call records go (JSON lines); default: the logger */
  onCallRecord?: (r: CallRecord) => void;
  metrics?: Metrics;
  rest?: TwilioRest;
}

export interface Bridge {
  app: FastifyInstance;
  ctx: BridgeContext;
  /** stop taking calls, let active ones finish (bounded), then fall back for the rest */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Loads a hold WAV once, resampled to 8 kHz (the rate of the caller leg). */
function loadHold(agent: AgentConfig, baseDir: string): Int16Array {
  if (!agent.hold.wav) return generateDefaultHold(8000);
  const wav = readWav(readFileSync(resolve(baseDir, agent.hold.wav)));
  if (wav.rate === 8000) return wav.samples;
  return new StreamResampler(wav.rate, 8000).process(wav.samples).slice();
}

export async function buildBridge(opts: BridgeOptions): Promise<Bridge> {
  const { config, logger } = opts;
  const settings = config.file.bridge;
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: true });
  const env = config.env;

  const rest = opts.rest ?? (env.twilioAccountSid && env.twilioAuthToken
    ? createTwilioRest({ accountSid: env.twilioAccountSid, authToken: env.twilioAuthToken, apiBase: env.twilioApiBase, logger })
    : undefined);
  if (!rest) logger.warn('TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN not set: transfers, hang-ups and DTMF by <Play> are unavailable');
  if (env.skipSignatureValidation) {
    logger.error('!!! TWILIO_SIGNATURE_VALIDATION=off: Twilio signatures are NOT checked. Development only — never in production !!!');
  } else if (!env.twilioAuthToken) {
    logger.error('TWILIO_AUTH_TOKEN is not set: every Twilio request will be refused (403) until it is');
  }
  if (settings.tool_allow_hosts.length) {
    logger.warn({ hosts: settings.tool_allow_hosts }, 'tool webhook allow-list is set: these hosts bypass the SSRF rules (development only)');
  }

  const tools = new Map<string, ToolRegistry>();
  const holds = new Map<string, Int16Array>();
  for (const agent of config.file.agents) {
    holds.set(agent.id, loadHold(agent, config.baseDir));
    if (agent.tools.length) {
      tools.set(agent.id, await ToolRegistry.load(agent.tools, {
        baseDir: config.baseDir, env: process.env, allowHosts: settings.tool_allow_hosts, logger,
      }));
    }
  }
  const defaultHold = generateDefaultHold(8000);
  const sockets = new SocketTuning(
    settings.write_coalesce_ms > 0 ? new WriteCoalescer({ maxHoldMs: settings.write_coalesce_ms }) : undefined,
    settings.shared_read_buffer,
  );
  // Both fast paths read private fields of Node and ws: say once whether they are in use.
  const fastPaths = await probeFastPaths(settings.shared_read_buffer);
  for (const path of ['shared_read', 'ws_fast_receive'] as const) metrics.fastPathActive.set({ path }, fastPaths[path].active ? 1 : 0);
  logger.info({ fastPaths }, describeFastPaths(fastPaths));

  // Stream tokens: every replica sharing STREAM_TOKEN_SECRET (or the Twilio auth token it is
  // derived from) verifies the others' tokens. Without either, a random per-process key: streams
  // then only verify on the process that answered the webhook.
  let tokenSecret = streamTokenSecret(env.streamTokenSecret, env.twilioAuthToken);
  if (!tokenSecret) {
    logger.warn('neither STREAM_TOKEN_SECRET nor TWILIO_AUTH_TOKEN is set: stream tokens use a random per-process key');
    tokenSecret = randomBytes(32);
  }
  const streamTokens = new StreamTokens(tokenSecret, settings.media_stream.token_ttl_s * 1000);

  const registry = new CallRegistry({
    settings,
    engine: { baseUrl: opts.engineBaseUrl, apiKey: env.pyaiApiKey, rate: env.omniRate },
    publicUrl: env.publicUrl,
    toolsFor: (id) => tools.get(id),
    holdFor: (id) => holds.get(id) ?? defaultHold,
    paceClock: new IntervalPaceClock(),
    streamTokens,
    rest,
    sockets,
    logger,
    metrics,
  }, opts.onCallRecord ?? ((r) => logger.info({ callRecord: r }, 'call record')));

  const agents = new Map(config.file.agents.map((a) => [a.id, a]));
  const ctx: BridgeContext = {
    config, settings, logger, metrics, registry, rest, sockets,
    draining: false,
    streamTokens,
    agent: (id) => (id ? agents.get(id) : undefined),
    agentForNumber: (to) => {
      const route = to ? config.file.numbers[to] : undefined;
      return agents.get(route?.agent ?? config.file.default_agent) ?? agents.get(config.file.default_agent)!;
    },
    atCapacity: () => registry.size >= settings.max_concurrent_calls,
    preconnect: (info, note, turns) => {
      // A resumed call (failed transfer) always gets its session: it carries the conversation.
      if (!note && !settings.preconnect.enabled) return undefined;
      const s = registry.create(info, turns);
      s.startEngine(note);
      s.awaitStream(settings.preconnect.stream_timeout_ms, 'preconnect');
      metrics.preconnect.inc({ result: 'started' });
      return s;
    },
    attachStream: (callSid, claims, handle) => {
      let s = registry.get(callSid);
      if (s) {
        if (s.isEnded) return { refused: 'call_ended' };
        // One stream per call: only a restart the bridge asked for (transfer-return, <Play
        // digits>, a moved call) may follow or replace a stream; anything else leaves it be.
        if (claims.purpose !== 'restart') {
          if (s.hasStream) return { refused: 'stream_already_live' };
          if (s.streamsAttached > 0) return { refused: 'stream_already_used' };
        }
        // Only a session's first stream is a pre-connect hit; later ones are restarts (<Play digits>).
        if (s.streamsAttached === 0) metrics.preconnect.inc({ result: 'attached' });
        s.attachStream(handle);
        return { session: s };
      }
      if (ctx.draining || ctx.atCapacity()) {
        // A call that reached us without its webhook (another replica answered it, or it was
        // moved here): like a new call at capacity, it hears the busy message, not a bare close.
        logger.warn({ callSid, draining: ctx.draining }, 'media stream refused: draining or at capacity; the caller gets the busy message');
        metrics.calls.inc({ outcome: ctx.draining ? 'refused_draining' : 'refused_capacity' });
        const refused = ctx.draining ? 'draining' : 'at_capacity';
        if (!rest) return { refused };
        const busy = rest.updateCallTwiml(callSid, hangupTwiml(settings.busy_message)).then((res) => {
          if (!res.ok) logger.warn({ callSid, status: res.status, code: res.code }, 'busy message: REST update failed');
          return res.ok;
        });
        return { refused, busy };
      }
      const agent = ctx.agent(claims.agent) ?? ctx.agentForNumber(claims.to);
      s = registry.create({ callSid, agent, from: claims.from, to: claims.to });
      s.startEngine();
      s.attachStream(handle);
      return { session: s };
    },
  };

  // Only the configured proxy hops may set the client address (per-IP limits, logs): an
  // X-Forwarded-For from anyone else is ignored, so it cannot dodge the limiter.
  const hops = env.trustProxyHops;
  const app = Fastify({ bodyLimit: 64 * 1024, trustProxy: (_addr: string, hop: number) => hop < hops });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, parseQuery(body as string));
  });
  await app.register(websocket, { options: { maxPayload: MAX_MEDIA_MESSAGE_BYTES }, errorHandler: websocketErrorHandler(logger) });
  app.setErrorHandler((err: { statusCode?: number; message?: string }, req, reply) => {
    const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    metrics.webhooksRejected.inc({ route: req.routeOptions?.url ?? 'unknown', reason: `http_${code}` });
    if (code === 500) logger.error({ err: err.message, route: req.routeOptions?.url }, 'request failed');
    void reply.code(code).type('text/plain').send(code === 500 ? 'Internal Server Error' : 'Bad Request');
  });
  registerHealthRoutes(app, ctx);
  registerVoiceRoutes(app, ctx);
  registerIvrRoutes(app, ctx);
  registerMediaRoute(app, ctx);
  registerAdminRoutes(app, ctx);

  return {
    app,
    ctx,
    async drain(timeoutMs) {
      ctx.draining = true;
      logger.info({ active: registry.size, timeoutMs }, 'draining: new calls are refused');
      const clean = await registry.whenEmpty(timeoutMs);
      if (!clean) {
        const left = registry.list();
        logger.warn({ calls: left.length }, 'drain timeout: running the fallback for remaining calls');
        await Promise.all(left.map((s) => s.control.giveUp('drain')));
      }
    },
    async close() {
      ctx.draining = true;
      for (const s of registry.list()) s.end('shutdown');
      await app.close();
    },
  };
}
