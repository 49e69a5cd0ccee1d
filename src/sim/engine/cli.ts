import { parseOrExit, usageError } from '../../cli-args.js';
import { ENGINE } from '../../cli-commands.js';
import { createLogger } from '../../observability/logger.js';
import { loadScenario, parsePacing, startOfflineEngine, type EngineOptions } from './index.js';

/** `omni-phone-bridge engine`: the offline Omni engine as a standalone server, until SIGINT/SIGTERM. */
export async function runEngineCli(argv: string[]): Promise<number> {
  const args = parseOrExit(ENGINE, argv);
  if (args.exit !== undefined) return args.exit;
  const values = args.values as Record<string, string | undefined>;
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0)
      throw new Error(`--${name} must be a non-negative integer (got "${v}")`);
    return n;
  };
  let logger;
  try {
    logger = createLogger();
  } catch (err) {
    process.stderr.write(`omni-phone-bridge engine: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  let port, outputRate, connectDelayMs;
  try {
    port = num(values.port, 'port');
    outputRate = num(values['output-rate'], 'output-rate');
    connectDelayMs = num(values['connect-delay-ms'], 'connect-delay-ms');
  } catch (err) {
    return usageError(ENGINE, (err as Error).message);
  }
  let scenario;
  try {
    scenario = values.scenario ? await loadScenario(values.scenario) : undefined;
  } catch (err) {
    process.stderr.write(`omni-phone-bridge engine: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  if (values.pacing !== undefined) {
    try {
      parsePacing(values.pacing);
    } catch (err) {
      return usageError(ENGINE, `--pacing: ${(err as Error).message}`);
    }
  }
  const opts: EngineOptions = {
    port,
    host: values.host,
    scenario,
    mode: values.mode as EngineOptions['mode'],
    outputRate,
    connectDelayMs,
    apiKey: values['api-key'],
    logger,
    pacing: values.pacing,
    dialect: values.dialect as EngineOptions['dialect'],
  };
  let engine;
  try {
    engine = await startOfflineEngine(opts);
  } catch (err) {
    process.stderr.write(`omni-phone-bridge engine: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  logger.info({ url: engine.url }, 'offline Omni engine ready: set PYAI_BASE_URL to this URL');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await engine.close();
  return 0;
}
