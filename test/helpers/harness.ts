import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { CallRecord } from '../../src/call/record.js';
import { SIM_AUTH_TOKEN, startStack, type Stack, type StackOptions } from '../../src/sim/stack.js';
import { TEST_METRICS_TOKEN } from './tokens.js';

export { SIM_ACCOUNT_SID as ACCOUNT_SID, SIM_AUTH_TOKEN as AUTH_TOKEN } from '../../src/sim/stack.js';

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
    return this.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => (typeof msg === 'string' ? o.msg === msg : msg.test(String(o.msg))));
  }
}

export interface Harness extends Stack {
  logs: LogCapture;
  logger: Logger;
  records: CallRecord[];
}

export async function startHarness(opts: StackOptions & { secrets?: string[] } = {}): Promise<Harness> {
  const logs = new LogCapture();
  const logger = createLogger({ level: 'debug', destination: logs, secrets: opts.secrets ?? [SIM_AUTH_TOKEN] });
  const records: CallRecord[] = [];
  // Every harness bridge can be scraped with TEST_METRICS_TOKEN (scrapeMetrics), as production is with its own.
  const env = { METRICS_TOKEN: TEST_METRICS_TOKEN, ...(opts.env ?? {}) };
  const stack = await startStack({ ...opts, env, logger, onCallRecord: (r) => records.push(r) });
  return { ...stack, logs, logger, records };
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
