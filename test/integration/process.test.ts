import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/stack.js';
import { BRIDGE_CLI, waitHealthy } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;

function runServe(env: Record<string, string>) {
  const child = spawn(process.execPath, [...BRIDGE_CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => out };
}

describe('the bridge process', () => {
  it('starts from the environment alone, answers /healthz, and exits 0 after draining on SIGTERM', async () => {
    const port = await freePort();
    const p = runServe({ PORT: String(port), TWILIO_AUTH_TOKEN: 'proc-test-token-91ab' });
    try {
      expect(await waitHealthy(port, 100_000, p.exited), p.output()).toBe(true);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
      expect(p.output()).toContain('OFFLINE Omni engine');
      expect(p.output()).toContain('drained');
      expect(p.output()).not.toContain('proc-test-token-91ab');
    } finally {
      p.child.kill('SIGKILL');
    }
  }, 120_000);

  it('refuses to start with an invalid configuration file, naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opb-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'default_agent: a\nagents:\n  - id: a\n    persona: hi\n    transfer: { timeout_s: 2 }\n');
    const p = runServe({ PORT: String(await freePort()), BRIDGE_CONFIG: file });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('agents.0.transfer.timeout_s');
  }, 30_000);
});
