import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { loadEnv, parseConfigText, type LoadedConfig } from '../../src/config/loader.js';
import { DEFAULT_CONFIG_PATH } from '../../src/config/loader.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { buildBridge, type Bridge } from '../../src/server/app.js';
import type { CallRecord } from '../../src/call/record.js';
import { startOfflineEngine, type EngineOptions, type OfflineEngine } from '../../src/sim/engine/index.js';
import { startTwilioSimulator, type TwilioSimulator } from '../../src/sim/twilio/index.js';
import { dirname } from 'node:path';
import { readFileSync } from 'node:fs';

export const ACCOUNT_SID = 'AC' + 'a1'.repeat(16);
export const AUTH_TOKEN = 'test-auth-token-3f9a2c71d4e8';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Collects every log line (to assert on, and to check that no secret is ever printed). */
export class LogCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  text(): string {
    return this.lines.join('\n');
  }
  find(msg: string | RegExp): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => (typeof msg === 'string' ? o.msg === msg : msg.test(String(o.msg))));
  }
}

export interface HarnessOptions {
  /** YAML configuration text; default: the shipped example */
  configText?: string;
  /** mutate the parsed configuration (e.g. bridge settings) */
  tweak?: (cfg: LoadedConfig) => void;
  engine?: EngineOptions;
  human?: { answer: 'answer' | 'busy' | 'no-answer' | 'failed'; talkMs?: number };
  env?: Record<string, string>;
  secrets?: string[];
}

export interface Harness {
  bridge: Bridge;
  engine: OfflineEngine;
  sim: TwilioSimulator;
  config: LoadedConfig;
  logs: LogCapture;
  logger: Logger;
  records: CallRecord[];
  bridgeUrl: string;
  close(): Promise<void>;
}

/** The whole product on loopback: offline engine, bridge, Twilio simulator with its REST API. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const engine = await startOfflineEngine({ ...(opts.engine ?? {}) });
  const port = await freePort();
  const bridgeUrl = `http://127.0.0.1:${port}`;
  const sim = await startTwilioSimulator({
    bridgeUrl, publicUrl: bridgeUrl, accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, human: opts.human,
  });
  const env = loadEnv({
    PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: bridgeUrl,
    TWILIO_ACCOUNT_SID: ACCOUNT_SID, TWILIO_AUTH_TOKEN: AUTH_TOKEN, TWILIO_API_BASE: sim.restBase,
    ...(opts.env ?? {}),
  });
  const text = opts.configText ?? readFileSync(DEFAULT_CONFIG_PATH, 'utf8');
  const config: LoadedConfig = { file: parseConfigText(text), env, baseDir: dirname(DEFAULT_CONFIG_PATH) };
  opts.tweak?.(config);
  const logs = new LogCapture();
  const logger = createLogger({ level: 'debug', destination: logs, secrets: opts.secrets ?? [AUTH_TOKEN] });
  const records: CallRecord[] = [];
  const bridge = await buildBridge({
    config, logger, engineBaseUrl: engine.url, metrics: createMetrics(), onCallRecord: (r) => records.push(r),
  });
  await bridge.app.listen({ port, host: '127.0.0.1' });
  return {
    bridge, engine, sim, config, logs, logger, records, bridgeUrl,
    async close() {
      await bridge.close();
      await sim.close();
      await engine.close();
    },
  };
}

export function waitFor(cond: () => boolean, timeoutMs = 5000, stepMs = 10): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`condition not met within ${timeoutMs} ms`));
      setTimeout(tick, stepMs);
    };
    tick();
  });
}
