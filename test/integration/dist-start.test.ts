/**
 * Production runs the compiled JavaScript. This spawns what `npm start` and the
 * Dockerfile run — plain `node dist/main.js serve`, no TypeScript loader — on loopback, and checks
 * that it answers /healthz and drains on SIGTERM: the emitted ESM resolves its imports, its
 * config/ and package.json, and the shipped tool modules load. dist/ comes from `npm ci` (the
 * `prepare` script); when it is missing or older than src/, beforeAll builds it exactly as
 * `npm start` would (scripts/build.mjs --if-stale), so the test always runs the current sources.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/sim/stack.js';
import { waitHealthy } from '../helpers/process.js';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('the compiled bridge (dist/)', () => {
  beforeAll(() => {
    // tsc on src/ takes ~20 s on this 2-core machine under load; nothing when dist/ is current.
    const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.status, `scripts/build.mjs --if-stale failed:\n${r.stdout}${r.stderr}`).toBe(0);
    expect(existsSync(`${ROOT}dist/main.js`)).toBe(true);
  }, 180_000);

  it('`node dist/main.js serve` runs without tsx, answers /healthz, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--heap-growing-percent=300', 'dist/main.js', 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
        TWILIO_AUTH_TOKEN: 'dist-test-token',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      expect(await waitHealthy(port, 100_000, exited), `no /healthz; output:\n${out}`).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('OFFLINE Omni engine');
      expect(out).not.toContain('cannot start');
      // No TypeScript loader in the process: nothing was imported from src/ or through tsx.
      expect(out).not.toMatch(/tsx|src\/\w+\.ts/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
