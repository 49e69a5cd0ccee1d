import { createWriteStream } from 'node:fs';
import { collectSecrets, ConfigError, loadConfig, type LoadedConfig } from './config/loader.js';
import { createLogger, type Logger } from './observability/logger.js';
import { buildBridge, type Bridge } from './server/app.js';
import type { CallRecord } from './call/record.js';
import type { OfflineEngine } from './sim/engine/index.js';

export interface RunningBridge {
  bridge: Bridge;
  url: string;
  engine?: OfflineEngine;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * Starts the bridge from a loaded configuration. Without PYAI_API_KEY (and no PYAI_BASE_URL),
 * the offline engine runs in-process so the bridge works with no account at all.
 */
export async function startBridge(config: LoadedConfig, opts: { logger?: Logger; engineOptions?: Record<string, unknown> } = {}): Promise<RunningBridge> {
  const logger = opts.logger ?? createLogger({ level: config.env.logLevel, secrets: collectSecrets(config) });
  let engine: OfflineEngine | undefined;
  let engineBaseUrl = config.env.pyaiBaseUrl;
  if (!config.env.pyaiApiKey && !process.env.PYAI_BASE_URL) {
    const { startOfflineEngine } = await import('./sim/engine/index.js');
    engine = await startOfflineEngine({ logger: logger.child({ component: 'offline-engine' }), ...(opts.engineOptions ?? {}) });
    engineBaseUrl = engine.url;
    logger.warn({ engine: engine.url }, 'PYAI_API_KEY is not set: using the built-in OFFLINE Omni engine (no real agent)');
  }
  const recordFile = process.env.CALL_RECORDS_FILE ? createWriteStream(process.env.CALL_RECORDS_FILE, { flags: 'a' }) : undefined;
  const onCallRecord = (r: CallRecord) => {
    if (recordFile) recordFile.write(`${JSON.stringify(r)}\n`);
    else logger.info({ callRecord: r }, 'call record');
  };
  const bridge = await buildBridge({ config, logger, engineBaseUrl, onCallRecord });
  const url = await bridge.app.listen({ port: config.env.port, host: config.env.host });
  logger.info({ url, publicUrl: config.env.publicUrl, config: config.env.configPath, agents: config.file.agents.map((a) => a.id) }, 'omni-phone-bridge listening');
  return {
    bridge, url, engine, logger,
    async stop() {
      await bridge.close();
      await engine?.close();
      recordFile?.end();
    },
  };
}

/** `omni-phone-bridge serve`: runs until SIGTERM/SIGINT, draining calls before it exits. */
export async function serveMain(): Promise<number> {
  let config: LoadedConfig;
  try {
    config = loadConfig();
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
  const drainMs = Number(process.env.DRAIN_TIMEOUT_MS) || 30_000;
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
      void running.bridge.drain(drainMs).then(() => running.stop()).then(resolve, resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  running.logger.info('drained; bye');
  return 0;
}
