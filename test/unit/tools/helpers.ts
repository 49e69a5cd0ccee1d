import { Writable } from 'node:stream';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Logger } from '../../../src/observability/logger.js';
import { ToolRegistry } from '../../../src/tools/registry.js';
import { ToolRuntime, type ToolRuntimeOptions } from '../../../src/tools/runtime.js';
import type { Resolver } from '../../../src/tools/netguard.js';
import type { ToolDefinition, ToolOutcome } from '../../../src/tools/types.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** A debug-level logger whose lines are kept, so tests can assert what was (not) logged. */
export function captureLogger(): { logger: Logger; lines: string[]; text: () => string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return { logger, lines, text: () => lines.join('') };
}

export function moduleTool(name: string, exportName: string, extra: Partial<ToolDefinition> = {}): ToolDefinition {
  return {
    name,
    description: `test tool ${name}`,
    parameters: { type: 'object', additionalProperties: true },
    timeout_ms: 5000,
    side_effect: 'read',
    executor: { kind: 'module', module: 'tools.ts', export: exportName },
    ...extra,
  };
}

export interface Sent {
  callId: string;
  name: string;
  output: unknown;
  at: number;
}

export interface Harness {
  runtime: ToolRuntime;
  registry: ToolRegistry;
  sent: Sent[];
  finished: Array<{ tool: string; outcome: ToolOutcome; durationMs: number; retried: boolean }>;
  log: ReturnType<typeof captureLogger>;
  /** Resolves when `n` answers have been sent (rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<Sent[]>;
}

export async function harness(
  defs: ToolDefinition[],
  opts: Partial<ToolRuntimeOptions> & {
    env?: NodeJS.ProcessEnv;
    allowHosts?: string[];
    baseDir?: string;
    resolver?: Resolver;
  } = {},
): Promise<Harness> {
  const log = captureLogger();
  const registry = await ToolRegistry.load(defs, {
    baseDir: opts.baseDir ?? FIXTURES,
    env: opts.env ?? {},
    allowHosts: opts.allowHosts,
    resolver: opts.resolver,
    logger: log.logger,
  });
  const sent: Sent[] = [];
  const finished: Harness['finished'] = [];
  const waiters: Array<() => void> = [];
  const runtime = new ToolRuntime(registry, {
    context: {
      callSid: 'CA00000000000000000000000000000001',
      agentId: 'support',
      from: '+15550001111',
      to: '+15550002222',
    },
    logger: log.logger,
    observer: { onToolFinished: (e) => finished.push(e) },
    ...opts,
    send: (callId, name, output) => {
      sent.push({ callId, name, output, at: performance.now() });
      try {
        opts.send?.(callId, name, output);
      } finally {
        for (const w of waiters.splice(0)) w();
      }
    },
  });
  const waitFor = (n: number, ms = 8000): Promise<Sent[]> =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`timed out waiting for ${n} answers, got ${sent.length}`)),
        ms,
      );
      const check = (): void => {
        if (sent.length >= n) {
          clearTimeout(deadline);
          resolve(sent);
        } else waiters.push(check);
      };
      check();
    });
  return { runtime, registry, sent, finished, log, waitFor };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
