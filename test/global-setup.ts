/**
 * Tests that spawn the bridge run what production runs, `node dist/main.js`: no TypeScript loader
 * compiling every file again in each spawned process (seconds of CPU apiece on a 2-core machine,
 * which made start-up the slowest, most load-sensitive part of those tests). This builds dist/ once
 * before any test when it is missing or older than src/, exactly as `npm start` would.
 */
import { spawnSync } from 'node:child_process';

const ROOT = new URL('..', import.meta.url).pathname;

export default function setup(): void {
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--if-stale'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`scripts/build.mjs --if-stale failed (status ${r.status}):\n${r.stdout}${r.stderr}`);
}
