/**
 * One argument parser for every command. Each test spawns the real CLI
 * (`node dist/main.js …`, as production runs it), bounded in time: help and version print and exit 0 (and
 * `serve --help` starts nothing), anything unknown is a usage error with exit code 2.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BRIDGE_CLI } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/**
 * A process still running after this is killed: a safety net, not what is measured, sized for a
 * full suite beside CPU burners on this 2-core machine.
 */
const BOUND_MS = 60_000;
const TEST_MS = 90_000;
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its exit; a process still running after `boundMs` is killed (code null). */
function cli(args: string[], env: Record<string, string> = {}, boundMs = BOUND_MS): Promise<Run> {
  const child = spawn(process.execPath, [...BRIDGE_CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), boundMs);
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the command line', () => {
  it(
    'serve --help prints the options and environment and exits 0 without starting a server',
    async () => {
      // The test holds PORT itself: a server that started anyway could not bind it and would exit 1
      // with "cannot start" (a freed port could be taken by another test's server meanwhile).
      const held = net.createServer().listen(0, '127.0.0.1');
      await once(held, 'listening');
      try {
        const port = (held.address() as net.AddressInfo).port;
        const r = await cli(['serve', '--help'], { PORT: String(port) });
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^usage: omni-phone-bridge serve/);
        for (const v of [
          'PORT',
          'PUBLIC_URL',
          'PYAI_API_KEY',
          'PYAI_BASE_URL',
          'TWILIO_AUTH_TOKEN',
          'LOG_LEVEL',
          'LOG_FORMAT',
        ])
          expect(r.stdout).toContain(v);
        expect(r.stdout + r.stderr).not.toMatch(/listening|cannot start/);
      } finally {
        held.close();
      }
    },
    TEST_MS,
  );

  it(
    'demo --help documents --json, --out and --human and exits 0; a --human outside its choices is exit 2',
    async () => {
      const [help, bad] = await Promise.all([cli(['demo', '--help']), cli(['demo', '--human', 'maybe'])]);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stderr).toBe('');
      expect(help.stdout).toMatch(/--json\s+print one JSON summary/);
      expect(help.stdout).toMatch(/--out FILE\s+where to write what the caller heard/);
      expect(help.stdout).toMatch(/--human OUTCOME\s+.*one of answer\|busy\|no-answer\|failed/);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--human must be one of answer, busy, no-answer, failed (got "maybe")');
      expect(bad.stdout).toBe(''); // refused before anything ran
    },
    TEST_MS,
  );

  it(
    '--version prints the package version and exits 0',
    async () => {
      // (each command's --help, -h, --version and -V, in-process: test/unit/cli/cli-args.test.ts)
      const r = await cli(['--version']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`omni-phone-bridge ${VERSION}\n`);
    },
    TEST_MS,
  );

  it(
    'an unknown option or an unknown command is a usage error: exit 2, named, with a pointer to --help',
    async () => {
      // (each command's parser, stray arguments and bad values, in-process: test/unit/cli/cli-args.test.ts)
      const cases: [string[], RegExp][] = [
        [['serve', '--bogus'], /serve: unknown option '--bogus'[^]*See 'omni-phone-bridge serve --help'/],
        [['frob'], /unknown command "frob"; commands: serve, engine, call, demo[^]*See 'omni-phone-bridge --help'/],
      ];
      const runs = await Promise.all(cases.map(([args]) => cli(args)));
      runs.forEach((r, i) => {
        expect(r.code, cases[i]![0].join(' ')).toBe(2);
        expect(r.stderr).toMatch(cases[i]![1]);
        expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
      });
    },
    TEST_MS,
  );

  it(
    'the top-level help lists every command with its options, and the environment variables',
    async () => {
      const r = await cli(['--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`omni-phone-bridge ${VERSION}`);
      for (const c of ['serve —', 'engine —', 'call —', 'demo —']) expect(r.stdout).toContain(c);
      for (const o of ['--scenario', '--output-rate', '--say', '--record', '--rest-port', '--json', '--out', '--human'])
        expect(r.stdout).toContain(o);
      for (const v of ['PYAI_BASE_URL', 'TWILIO_AUTH_TOKEN', 'ADMIN_TOKEN', 'LOG_LEVEL', 'LOG_FORMAT'])
        expect(r.stdout).toContain(v);
    },
    TEST_MS,
  );
});
