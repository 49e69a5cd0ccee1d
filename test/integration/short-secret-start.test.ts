import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/stack.js';
import { BRIDGE_CLI } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The real process, started as production would be (a public PUBLIC_URL), with a 3-character secret. */
function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, [...BRIDGE_CLI, 'serve'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve(code);
    }),
  );
  return { exited, output: () => out };
}

describe('secret strength at start-up', () => {
  it('refuses to start with a 3-character ADMIN_TOKEN on a public URL, naming the variable but never printing the secret', async () => {
    const p = serve({
      PORT: String(await freePort()),
      PUBLIC_URL: 'https://bridge.example.com',
      TWILIO_AUTH_TOKEN: 'a-long-enough-twilio-token-0123',
      ADMIN_TOKEN: 'q7z',
    });
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('ADMIN_TOKEN is too weak');
    expect(p.output()).not.toContain('q7z');
  }, 30_000);

  it('refuses to start with a long but guessable ADMIN_TOKEN (repeated, or words), even on loopback, and says how to make one', async () => {
    for (const weak of ['a'.repeat(64), 'my-super-secret-admin-token-2024']) {
      const port = String(await freePort());
      const p = serve({ PORT: port, PUBLIC_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN: weak });
      expect(await p.exited, `${weak.length} characters`).toBe(1);
      expect(p.output()).toContain('ADMIN_TOKEN is too weak');
      expect(p.output()).toContain('openssl rand -hex 32');
      expect(p.output()).not.toContain(weak);
    }
  }, 60_000);
});
