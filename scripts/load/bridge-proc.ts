/**
 * The bridge under test, alone in its own process (the load benchmark pins it to one core with
 * taskset). It is the production start path (`startBridge`: default metrics, pino, signatures on),
 * configured only through the environment:
 *   BRIDGE_CONFIG   the YAML the benchmark wrote       PORT, HOST, PUBLIC_URL   where it listens
 *   PYAI_BASE_URL   the load side's offline engine     TWILIO_*                  the fake credentials
 * It tells the parent over IPC when it listens, and exits by itself when the parent goes away
 * (IPC disconnect), on SIGTERM/SIGINT, or after BENCH_MAX_LIFETIME_S — never a stray process.
 * Asked `{type:'memory'}` over IPC, it collects garbage and answers with process.memoryUsage().
 * Exiting through process.exit() lets `--cpu-prof` write its profile.
 */
import { collectSecrets, loadConfig } from '../../src/config/loader.js';
import { createLogger } from '../../src/observability/logger.js';
import { startBridge, type RunningBridge } from '../../src/serve.js';

const maxLifetimeMs = (Number(process.env.BENCH_MAX_LIFETIME_S) || 600) * 1000;

async function main(): Promise<void> {
  if (!process.env.PYAI_BASE_URL) throw new Error("PYAI_BASE_URL must point at the load side's engine");
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.env.logLevel, secrets: collectSecrets(config) });
  const running: RunningBridge = await startBridge(config, { logger });

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.warn({ why }, 'bench bridge stopping');
    const hard = setTimeout(() => process.exit(0), 3000);
    hard.unref();
    void running.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('parent gone'));
  setTimeout(() => stop('max lifetime'), maxLifetimeMs).unref();

  // Memory per call is read after a full GC (the bench starts node with --expose-gc), with the
  // calls still up; it runs outside the latency windows, so its pause is never measured as lag.
  process.on('message', (m: { type?: string }) => {
    if (m?.type !== 'memory') return;
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: 'memory', ...process.memoryUsage() });
  });
  process.send?.({ type: 'ready', url: running.url, pid: process.pid });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench bridge failed to start: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
