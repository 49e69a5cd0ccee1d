#!/usr/bin/env node
/**
 * Compiles src/ to dist/ with tsc (tsconfig.build.json), so that production runs plain
 * `node dist/main.js`. Plain JavaScript with no dependency but TypeScript itself,
 * so that it runs before anything is built.
 *
 *   node scripts/build.mjs             build (`npm run build`, and `prepare` after `npm ci`)
 *   node scripts/build.mjs --if-stale  build only when dist/ is missing or older than src/ or the
 *                                      tsconfigs (`prestart`, `predemo`, `preengine`, `precall`)
 *
 * tsc writes into a fresh sibling directory that replaces dist/ only when it compiled without an
 * error (noEmitOnError), so a failed build leaves the last good dist/ in place (and stale, so the
 * next start tries again), files of deleted sources never linger, and a build that runs while
 * another process runs from dist/ (several test runs in one tree) never leaves it half written.
 * dist/.built records when the compiled sources were read: its mtime is the build's start.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const MARKER = join(DIST, '.built');
const INPUTS = [join(ROOT, 'src'), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json')];

/** The newest mtime (ms) among the inputs: every file and directory (a deleted source changes its directory's). */
function newestInput() {
  let newest = 0;
  const visit = (path) => {
    const st = statSync(path);
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  for (const p of INPUTS) visit(p);
  return newest;
}

/** Why dist/ needs a build, or undefined when it is up to date. */
export function staleReason() {
  if (!existsSync(MARKER)) return 'dist/ is not built';
  return newestInput() > statSync(MARKER).mtimeMs ? 'src/ changed since dist/ was built' : undefined;
}

function build() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    console.error(
      'build: typescript is not installed (a production install?). Run `npm ci`, or ship a dist/ built elsewhere (the Dockerfile does).',
    );
    return 1;
  }
  const startedAt = new Date();
  const out = join(ROOT, `.dist-build-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], {
    stdio: 'inherit',
    cwd: ROOT,
  });
  if (r.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    console.error('build: tsc failed; dist/ is unchanged');
    return 1;
  }
  // The console's page files are not TypeScript: copied beside the compiled console module (src/console/routes.ts).
  cpSync(join(ROOT, 'src', 'console', 'public'), join(out, 'console', 'public'), { recursive: true });
  writeFileSync(join(out, '.built'), `${startedAt.toISOString()}\n`);
  utimesSync(join(out, '.built'), startedAt, startedAt);
  // Swap: another build finishing at the same moment may win either rename; its output is as good.
  const old = join(ROOT, `.dist-old-${process.pid}`);
  try {
    renameSync(DIST, old);
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  try {
    renameSync(out, DIST);
  } catch (err) {
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
  }
  rmSync(old, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ifStale = process.argv.includes('--if-stale');
  const reason = staleReason();
  if (ifStale && !reason) process.exit(0);
  if (ifStale) console.error(`build: ${reason}; compiling src/ to dist/ …`);
  process.exit(build());
}
