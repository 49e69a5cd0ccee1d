#!/usr/bin/env node
// Runs the compiled CLI (dist/main.js, built by `npm run build`, which `npm ci` runs as `prepare`).
// In a checkout that has not been built, it falls back to the TypeScript sources through tsx (a
// devDependency), and says so. It does not rebuild a stale dist/: `npm start` and `npm run demo` do.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'main.js');
// --heap-growing-percent: fewer full GCs under load (docs/capacity.md); the same flag as `npm start`.
const flags = ['--heap-growing-percent=300'];
let entry;
if (existsSync(dist)) {
  entry = [dist];
} else {
  let tsxCli;
  try {
    tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  } catch {
    console.error('omni-phone-bridge: dist/ is not built and tsx is not installed; run `npm ci` (or `npm run build`)');
    process.exit(1);
  }
  console.error(
    'omni-phone-bridge: dist/ is not built; running the TypeScript sources through tsx (`npm run build` compiles them)',
  );
  entry = [tsxCli, join(root, 'src', 'main.ts')];
}
const r = spawnSync(process.execPath, [...flags, ...entry, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
