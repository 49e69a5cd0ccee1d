import { parseArgs } from 'node:util';
import { createLogger } from '../../observability/logger.js';
import { loadScenario, startOfflineEngine, type EngineOptions } from './index.js';

const USAGE = `usage: omni-phone-bridge engine [--port 8090] [--host 127.0.0.1] [--scenario file.yaml]
       [--mode scripted|echo-agent|loopback] [--output-rate 16000] [--connect-delay-ms 0] [--api-key KEY]
Runs the offline Omni engine. Point the bridge at it with PYAI_BASE_URL=ws://HOST:PORT.`;

/** `omni-phone-bridge engine`: the offline Omni engine as a standalone server, until SIGINT/SIGTERM. */
export async function runEngineCli(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '8090' },
        host: { type: 'string', default: '127.0.0.1' },
        scenario: { type: 'string' },
        mode: { type: 'string' },
        'output-rate': { type: 'string' },
        'connect-delay-ms': { type: 'string' },
        'api-key': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer`);
    return n;
  };
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info' });
  const mode = values.mode;
  if (mode && !['scripted', 'echo-agent', 'loopback'].includes(mode)) {
    process.stderr.write(`--mode must be scripted, echo-agent or loopback\n`);
    return 2;
  }
  let opts: EngineOptions;
  try {
    opts = {
      port: num(values.port, 'port'),
      host: values.host,
      scenario: values.scenario ? await loadScenario(values.scenario) : undefined,
      mode: mode as EngineOptions['mode'],
      outputRate: num(values['output-rate'], 'output-rate'),
      connectDelayMs: num(values['connect-delay-ms'], 'connect-delay-ms'),
      apiKey: values['api-key'],
      logger,
    };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const engine = await startOfflineEngine(opts);
  logger.info({ url: engine.url }, 'offline Omni engine ready: set PYAI_BASE_URL to this URL');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await engine.close();
  return 0;
}
