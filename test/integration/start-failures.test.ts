/**
 * A start that fails exits, non-zero, within a second of saying why — in every
 * mode. Each test spawns the real CLI (`node dist/main.js …`, as production runs it) on loopback and measures
 * the time from the failure message to the exit. Before the fix the offline engine, already
 * listening when the bridge failed, kept `serve` alive forever after `cannot start: …`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/stack.js';
import { BRIDGE_CLI } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/**
 * A process still running after this is killed: a safety net, not what is measured (that is the
 * time from the message to the exit), sized for a full suite beside CPU burners on this 2-core
 * machine.
 */
const START_BOUND_MS = 60_000;
const TEST_MS = 90_000;

interface Outcome {
  code: number | null;
  output: string;
  /** ms from the first byte of `expect` on stderr to the exit */
  exitAfterMessageMs: number;
}

/** Runs the CLI until it exits (or START_BOUND_MS passes: then it is killed and code is null). */
function runCli(args: string[], env: Record<string, string>, message: RegExp): Promise<Outcome> {
  const child = spawn(process.execPath, [...BRIDGE_CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let messageAt = 0;
  const onData = (d: Buffer) => {
    output += d.toString();
    if (!messageAt && message.test(output)) messageAt = performance.now();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), START_BOUND_MS);
    child.on('exit', (code) => {
      clearTimeout(kill);
      const exitedAt = performance.now();
      resolve({ code, output, exitAfterMessageMs: messageAt ? exitedAt - messageAt : Infinity });
    });
  });
}

function configFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'opb-start-'));
  const file = join(dir, 'agents.yaml');
  writeFileSync(file, text);
  return file;
}

const AGENT = 'default_agent: a\nagents:\n  - id: a\n    persona: You are a test agent.\n';
const tool = (executor: string) =>
  `${AGENT}    tools:\n      - name: look_up\n        description: Looks something up.\n        side_effect: read\n` +
  `        parameters: { type: object, properties: {} }\n        executor: ${executor}\n`;

const listening: Server[] = [];
afterEach(async () => {
  await Promise.all(listening.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** Something else listening on a port of 127.0.0.1. */
async function occupiedPort(): Promise<number> {
  const server = createServer();
  listening.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

function expectPromptExit(o: Outcome, code: number, message: RegExp): void {
  expect(o.output).toMatch(message);
  expect(o.code, o.output).toBe(code);
  // A hang detector, not a speed target: the old failure mode was a process that never exited.
  expect(o.exitAfterMessageMs, o.output).toBeLessThan(10_000);
}

describe('a start that fails exits at once, non-zero, saying why', () => {
  it(
    'serve on a port in use: exit 1 naming the address and PORT, before the offline engine starts',
    async () => {
      const port = await occupiedPort();
      const msg = /cannot start: listen EADDRINUSE: 127\.0\.0\.1:\d+ is already in use; .*set PORT/;
      const o = await runCli(['serve'], { PORT: String(port) }, msg);
      expectPromptExit(o, 1, msg);
      expect(o.output).not.toContain('OFFLINE Omni engine'); // nothing was started
    },
    TEST_MS,
  );

  it(
    'serve with DRAIN_TIMEOUT_MS that is not a number of milliseconds: exit 1 naming the variable',
    async () => {
      for (const value of ['soon', '-5', '1.5', '30s']) {
        const msg = /DRAIN_TIMEOUT_MS must be a whole number of milliseconds/;
        const o = await runCli(['serve'], { PORT: String(await freePort()), DRAIN_TIMEOUT_MS: value }, msg);
        expectPromptExit(o, 1, msg);
        expect(o.output).toContain(`got "${value}"`);
      }
    },
    TEST_MS,
  );

  it(
    'serve with an invalid configuration file: exit 1 naming the field',
    async () => {
      const file = configFile(`${AGENT}    transfer: { timeout_s: 2 }\n`);
      const msg = /agents\.0\.transfer\.timeout_s/;
      const o = await runCli(['serve'], { PORT: String(await freePort()), BRIDGE_CONFIG: file }, msg);
      expectPromptExit(o, 1, msg);
    },
    TEST_MS,
  );

  it(
    'serve with a tool module that does not exist: exit 1 naming the module',
    async () => {
      const file = configFile(tool('{ kind: module, module: ./no-such-tool.ts }'));
      const msg = /cannot start: [^]*cannot import module \.\/no-such-tool\.ts/;
      const o = await runCli(['serve'], { PORT: String(await freePort()), BRIDGE_CONFIG: file }, msg);
      expectPromptExit(o, 1, msg);
    },
    TEST_MS,
  );

  it(
    'serve with a secret variable the configuration names but the environment lacks: exit 1 naming the variable',
    async () => {
      const file = configFile(
        tool(
          '{ kind: http, url: "https://tools.example.com/look-up", signing_secret_env: TOOL_SECRET_LOOK_UP_SIGNING }',
        ),
      );
      const msg = /cannot start: [^]*TOOL_SECRET_LOOK_UP_SIGNING[^]*is not set/;
      const o = await runCli(['serve'], { PORT: String(await freePort()), BRIDGE_CONFIG: file }, msg);
      expectPromptExit(o, 1, msg);
    },
    TEST_MS,
  );

  it(
    'serve pointed at an engine nothing listens on (PYAI_BASE_URL): exit 1 naming the engine, before listening',
    async () => {
      const enginePort = await freePort();
      const port = await freePort();
      const msg = /cannot start: the Omni engine at ws:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/;
      const o = await runCli(
        ['serve'],
        { PORT: String(port), PYAI_BASE_URL: `ws://127.0.0.1:${enginePort}/secret-path?key=do-not-print` },
        msg,
      );
      expectPromptExit(o, 1, msg);
      expect(o.output).not.toContain('do-not-print');
      expect(o.output).not.toContain('listening');
    },
    TEST_MS,
  );

  it(
    'engine on a port in use: exit 1 naming the address',
    async () => {
      const port = await occupiedPort();
      const msg = /engine: cannot start: .*EADDRINUSE/;
      const o = await runCli(['engine', '--port', String(port)], {}, msg);
      expectPromptExit(o, 1, msg);
    },
    TEST_MS,
  );
});
