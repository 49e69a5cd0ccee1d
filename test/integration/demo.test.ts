/**
 * `npm run demo` is the newcomer's first command: the real CLI (`node dist/main.js demo`) runs the
 * scripted contact-center call offline, and with --json its stdout is one JSON document.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unmetExpectations } from '../../src/demo.js';
import { BRIDGE_CLI } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/** hang guard for a ~40 s scripted call on a loaded machine */
const BOUND_MS = 150_000;

describe('the offline demo', () => {
  it(
    'demo --json: the scripted call goes as written, exit 0, stdout is the JSON alone and the WAV is written',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'opb-demo-'));
      const out = join(dir, 'heard.wav');
      const child = spawn(process.execPath, [...BRIDGE_CLI, 'demo', '--json', '--out', out], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const kill = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      clearTimeout(kill);
      try {
        expect(code, stderr.slice(-2000)).toBe(0);
        const lines = stdout.trim().split('\n');
        expect(lines).toHaveLength(1); // no log line before the JSON (they go to stderr)
        const summary = JSON.parse(lines[0]!) as { unmet: string[]; endedBy: string; violations: string[] };
        expect(summary.unmet).toEqual([]);
        expect(summary.violations).toEqual([]);
        expect(existsSync(out)).toBe(true);
        expect(stdout + stderr).not.toMatch(/\+\d{7,15}/); // numbers are masked as in a log
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    BOUND_MS + 10_000,
  );
});

describe("the demo's expectations of its scripted call", () => {
  const good = {
    toolCalls: [
      { name: 'get_order_status', outcome: 'ok' },
      { name: 'crm_check_warranty', outcome: 'ok' },
    ],
    verbs: [
      { verb: 'collect', result: 'num_digits' },
      { verb: 'transfer_to_human', result: 'started' },
    ],
  };

  it('a call as written meets them all', () => {
    expect(unmetExpectations(good)).toEqual([]);
  });

  it('digits keyed before the agent asked (the collect timed out), a failed tool or no transfer: each is named', () => {
    expect(
      unmetExpectations({
        toolCalls: [{ name: 'get_order_status', outcome: 'error' }],
        verbs: [{ verb: 'collect', result: 'timeout' }],
      }),
    ).toEqual([
      'tool get_order_status error',
      'tool crm_check_warranty not called',
      'collect ended by timeout',
      'no transfer started',
    ]);
  });
});
