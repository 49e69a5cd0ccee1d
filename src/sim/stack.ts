import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_CONFIG_PATH, loadEnv, parseConfigText, type LoadedConfig } from '../config/loader.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { buildBridge, type Bridge } from '../bridge.js';
import type { CallRecord } from '../call/record.js';
import type { FleetStore } from '../store/fleet-store.js';
import { readStoreEnv } from '../store/open-store.js';
import { startOfflineEngine, type EngineOptions, type OfflineEngine } from './engine/index.js';
import { freePort } from './free-port.js';
import { startTwilioSimulator, type TwilioSimulator } from './twilio/index.js';
import type { HumanBehaviour } from './twilio/types.js';

/** Fake credentials of the offline stack: the simulator signs with them, the bridge checks them. */
export const SIM_ACCOUNT_SID = 'AC' + 'a1'.repeat(16);
export const SIM_AUTH_TOKEN = 'sim-auth-token-3f9a2c71d4e8';

export { freePort } from './free-port.js';

export interface StackOptions {
  /** configuration text (YAML/JSON); default: the shipped config/agents.yaml */
  configText?: string;
  configDir?: string;
  tweak?: (cfg: LoadedConfig) => void;
  engine?: EngineOptions;
  human?: HumanBehaviour;
  env?: Record<string, string>;
  logger?: Logger;
  onCallRecord?: (r: CallRecord) => void;
  /** the bridge's fleet store (default: in-process) */
  store?: FleetStore;
}

export interface Stack {
  bridge: Bridge;
  engine: OfflineEngine;
  sim: TwilioSimulator;
  config: LoadedConfig;
  bridgeUrl: string;
  close(): Promise<void>;
}

/**
 * The whole product on loopback, offline: the Omni engine, the bridge (signatures on, REST
 * pointed at the simulator) and the Twilio simulator. The demo, the integration tests and the
 * benchmarks all run on this one assembly.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const engine = await startOfflineEngine({ ...(opts.engine ?? {}) });
  const port = await freePort();
  const bridgeUrl = `http://127.0.0.1:${port}`;
  const sim = await startTwilioSimulator({
    bridgeUrl,
    publicUrl: bridgeUrl,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    human: opts.human,
  });
  const env = loadEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: bridgeUrl,
    TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
    TWILIO_API_BASE: sim.restBase,
    ...(opts.env ?? {}),
  });
  const text = opts.configText ?? readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  const config: LoadedConfig = {
    file: parseConfigText(text),
    env,
    baseDir: opts.configDir ?? dirname(DEFAULT_CONFIG_PATH),
  };
  opts.tweak?.(config);
  const logger = opts.logger ?? createLogger({ level: 'warn', secrets: [SIM_AUTH_TOKEN] });
  const bridge = await buildBridge({
    config,
    logger,
    engineBaseUrl: engine.url,
    metrics: createMetrics({ defaultMetrics: true }),
    onCallRecord: opts.onCallRecord,
    // The stack's environment is `opts.env`, never the process's: REDIS_URL there makes it a fleet member.
    ...(opts.store ? { store: opts.store } : {}),
    storeEnv: readStoreEnv(opts.env ?? {}),
  });
  await bridge.app.listen({ port, host: '127.0.0.1' });
  return {
    bridge,
    engine,
    sim,
    config,
    bridgeUrl,
    async close() {
      await bridge.close();
      await sim.close();
      await engine.close();
    },
  };
}
