import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { parseOrExit } from './cli-args.js';
import { SERVE } from './cli-commands.js';
import { collectSecrets, ConfigError, loadConfig, type LoadedConfig } from './config/loader.js';
import { fileSecrets } from './config/file-secrets.js';
import { createLogger, secretScrubber, type Logger } from './observability/logger.js';
import { buildBridge, type Bridge } from './bridge.js';
import { publicEndpoints } from './server/startup-notes.js';
import { tcpReachable } from './net/tcp-reachable.js';
import type { CallRecord } from './call/record.js';
import type { OfflineEngine, Scenario } from './sim/engine/index.js';
import { resolve as resolvePath } from 'node:path';

export interface RunningBridge {
  bridge: Bridge;
  url: string;
  engine?: OfflineEngine;
  logger: Logger;
  /** the bound SIP port (UDP and TCP), when SIP_PORT is set; SIP_PORT=0 picks a free one */
  sipPort?: number;
  stop(): Promise<void>;
}

/** How long the start-up check waits for the engine to accept a connection. */
export const ENGINE_CHECK_TIMEOUT_MS = 3000;

/**
 * Whether something accepts TCP connections at a ws/wss/http/https URL's host and port, within
 * `timeoutMs`. Resolves to undefined when it does, or to the reason it does not (ECONNREFUSED,
 * ENOTFOUND, a timeout). Only the origin is ever named: a base URL's path or query could hold a key.
 */
export function checkReachable(baseUrl: string, timeoutMs = ENGINE_CHECK_TIMEOUT_MS): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return Promise.resolve('not an absolute URL');
  }
  const secure = url.protocol === 'wss:' || url.protocol === 'https:';
  const port = Number(url.port) || (secure ? 443 : 80);
  return tcpReachable(url.hostname, port, timeoutMs);
}

/**
 * DRAIN_TIMEOUT_MS: unset is 30 s; 0 is "do not wait" (calls get their fallback at once); anything
 * but a whole number of milliseconds up to a day is a start-up error, never a silent default.
 */
export function drainTimeoutMs(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 30_000;
  const v = raw.trim();
  if (!/^\d+$/.test(v) || Number(v) > 86_400_000)
    throw new ConfigError(
      `DRAIN_TIMEOUT_MS must be a whole number of milliseconds from 0 (do not wait) to 86400000, got "${v.slice(0, 40)}"; unset it for the default 30000`,
    );
  return Number(v);
}

/** Fails with a message naming PORT when something already listens at host:port (before anything starts). */
function checkPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? portInUse(port, host) : err),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function portInUse(port: number, host: string): Error {
  return new Error(
    `listen EADDRINUSE: ${host}:${port} is already in use; stop what listens there, or set PORT to a free port`,
  );
}

/** `wss://host:port` of a base URL, for messages: never its path, query or credentials. */
function originOf(baseUrl: string): string {
  try {
    const u = new URL(baseUrl);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Starts the bridge from a loaded configuration. Without PYAI_API_KEY (and no PYAI_BASE_URL),
 * the offline engine runs in-process so the bridge works with no account at all. With an engine
 * elsewhere, that engine must accept a connection before the bridge listens: a wrong
 * PYAI_BASE_URL or an engine that is not up is a start-up error, not a bridge that sends every
 * call to its fallback (docs/decisions.md).
 *
 * When anything fails, what was already started (the offline engine, the record file, the
 * server) is closed before the error is thrown: a failed start leaves nothing open.
 */
export async function startBridge(
  config: LoadedConfig,
  opts: { logger?: Logger; engineOptions?: Record<string, unknown> } = {},
): Promise<RunningBridge> {
  const secrets = collectSecrets(config);
  const logger = opts.logger ?? createLogger({ level: config.env.logLevel, secrets });
  // A record line goes through the log's scrubber too: a secret in a transcript or an error text
  // must no more reach the records file than the log.
  const scrub = secretScrubber(secrets) ?? ((line: string) => line);
  let engine: OfflineEngine | undefined;
  let bridge: Bridge | undefined;
  let recordFile: WriteStream | undefined;
  try {
    // The port first: a bridge that cannot listen must not start an engine or reach anything.
    await checkPortFree(config.env.port, config.env.host);
    let engineBaseUrl = config.env.pyaiBaseUrl;
    const offline = !config.env.pyaiApiKey && !process.env.PYAI_BASE_URL;
    // The engines calls will reach: each agent's own base_url, else the global one (unless offline).
    const engines = new Set(config.file.agents.map((a) => a.engine?.base_url).filter((u): u is string => !!u));
    if (!offline && config.file.agents.some((a) => !a.engine?.base_url)) engines.add(engineBaseUrl);
    for (const base of engines) {
      const why = await checkReachable(base);
      if (why)
        throw new Error(
          `the Omni engine at ${originOf(base)} is unreachable (${why}); check PYAI_BASE_URL (or the agent's engine.base_url) and that the engine is running`,
        );
    }
    let engineBaseUrlFor: ((agentId: string) => string | undefined) | undefined;
    if (offline) {
      const { startOfflineEngine, loadScenario } = await import('./sim/engine/index.js');
      // Each agent that names its offline scenario gets it for its calls (docs/scenarios.md); a
      // scenario that does not load stops start-up, naming the agent, as a bad tool module does.
      const scenarios: Record<string, Scenario> = {};
      for (const a of config.file.agents) {
        if (!a.offline) continue;
        const file = resolvePath(config.baseDir, a.offline.scenario);
        scenarios[a.id] = await loadScenario(file).catch((err: Error) => {
          throw new ConfigError(`agents.${a.id}.offline.scenario: ${err.message}`);
        });
      }
      engine = await startOfflineEngine({
        logger: logger.child({ component: 'offline-engine' }),
        scenarios,
        ...(opts.engineOptions ?? {}),
      });
      engineBaseUrl = engine.url;
      const running = engine;
      engineBaseUrlFor = (id) => (Object.hasOwn(scenarios, id) ? running.agentUrl(id) : undefined);
      if (Object.keys(scenarios).length)
        logger.info({ agents: Object.keys(scenarios) }, 'offline engine: these agents run their own scenario');
      logger.warn(
        { engine: engine.url },
        'PYAI_API_KEY is not set: using the built-in OFFLINE Omni engine (no real agent)',
      );
    }
    recordFile = process.env.CALL_RECORDS_FILE
      ? createWriteStream(process.env.CALL_RECORDS_FILE, { flags: 'a' })
      : undefined;
    const records = recordFile;
    const onCallRecord = (r: CallRecord) => {
      if (records) records.write(`${scrub(JSON.stringify(r))}\n`);
      else logger.info({ callRecord: r }, 'call record');
    };
    bridge = await buildBridge({
      config,
      logger,
      engineBaseUrl,
      onCallRecord,
      ...(engineBaseUrlFor ? { engineBaseUrlFor } : {}),
    });
    const url = await bridge.app
      .listen({ port: config.env.port, host: config.env.host })
      .catch((err: NodeJS.ErrnoException) => {
        // taken between the check and now
        throw err.code === 'EADDRINUSE' ? portInUse(config.env.port, config.env.host) : err;
      });
    logger.info(
      {
        url,
        publicUrl: config.env.publicUrl,
        config: config.env.configPath,
        agents: config.file.agents.map((a) => a.id),
        ...(bridge.sip ? { sipPort: bridge.sip.port } : {}),
      },
      'omni-phone-bridge listening',
    );
    // What to paste into Twilio, and where the console is: the first thing a new deployment needs.
    const endpoints = publicEndpoints(config.env);
    logger.info(
      { voiceWebhook: endpoints.voiceWebhook, statusCallback: endpoints.statusCallback },
      `Twilio number: "A call comes in" webhook ${endpoints.voiceWebhook} (HTTP POST); "Call status changes" ${endpoints.statusCallback}`,
    );
    if (endpoints.console) logger.info({ console: endpoints.console }, `operator console: ${endpoints.console}`);
    const running = bridge;
    const offlineEngine = engine;
    return {
      bridge: running,
      url,
      engine: offlineEngine,
      logger,
      ...(running.sip ? { sipPort: running.sip.port } : {}),
      async stop() {
        await running.close();
        await offlineEngine?.close();
        records?.end();
      },
    };
  } catch (err) {
    await bridge?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
    recordFile?.destroy();
    throw err;
  }
}

/** `omni-phone-bridge serve`: runs until SIGTERM/SIGINT, draining calls before it exits. */
export async function serveMain(argv: readonly string[] = []): Promise<number> {
  const args = parseOrExit(SERVE, argv);
  if (args.exit !== undefined) return args.exit;
  let config: LoadedConfig;
  let drainMs: number;
  try {
    // NAME_FILE → NAME (Docker/Kubernetes secrets), before anything reads the environment
    Object.assign(process.env, fileSecrets(process.env));
    config = loadConfig();
    drainMs = drainTimeoutMs(process.env.DRAIN_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`omni-phone-bridge: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let running: RunningBridge;
  try {
    running = await startBridge(config);
  } catch (err) {
    process.stderr.write(`omni-phone-bridge: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  let signals = 0;
  await new Promise<void>((resolve) => {
    const onSignal = (sig: string) => {
      signals++;
      if (signals > 1 && sig === 'SIGINT') {
        running.logger.error('second SIGINT: exiting now');
        process.exit(130);
      }
      if (signals > 1) return;
      running.logger.info({ signal: sig, drainMs }, 'shutting down: draining calls');
      void running.bridge
        .drain(drainMs)
        .then(() => running.stop())
        .then(resolve, resolve);
    };
    // SIGHUP re-reads the configuration file (src/server/reload.ts); a refused one is logged and changes nothing.
    process.on('SIGHUP', () => void running.bridge.ctx.reloadConfig('SIGHUP'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  running.logger.info('drained; bye');
  return 0;
}
