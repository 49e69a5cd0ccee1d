/**
 * Layer rules (run by `npm run check:cycles` after the cycle check, so by `.ci/run` too): the call
 * core (src/call/, src/control/) imports no telephony leg and no server module — it reaches the
 * phone call only through its own port, src/call/leg.ts; the server does not import the console
 * (src/bridge.ts mounts it); the leaves (audio, net, observability) import nothing above them.
 * Type-only imports count: a port a layer needs lives in that layer.
 *
 *   tsx scripts/check-layers.ts [DIR]      (default: src) — exits 1 and lists every violation
 *
 * Reads the same static import/export statements as check-cycles.ts (its importGraph), and the
 * packages imported, so `import twilio from 'twilio'` in the core is caught as well.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importGraph } from './check-cycles.js';

export interface LayerRule {
  /** folders (relative to the scanned directory, ending in /) the rule applies to */
  from: readonly string[];
  /** folders those files may not import from */
  forbidden: readonly string[];
  /** packages those files may not import (a name or a scope/name prefix) */
  packages: readonly string[];
  why: string;
}

export const LAYER_RULES: readonly LayerRule[] = [
  {
    from: ['call/', 'control/'],
    forbidden: ['twilio/', 'sip/', 'legs/', 'server/'],
    packages: ['twilio', 'fastify', '@fastify/'],
    why: 'the call core talks to a telephony leg only through src/call/leg.ts',
  },
  {
    from: ['server/'],
    forbidden: ['console/'],
    packages: [],
    why: 'the console sits above the server: src/bridge.ts mounts it',
  },
  {
    // the leaves every layer uses: what they import from above would come back as a cycle
    from: ['audio/', 'net/', 'observability/'],
    forbidden: [
      'call/',
      'control/',
      'server/',
      'console/',
      'control-plane/',
      'twilio/',
      'sip/',
      'rtp/',
      'sim/',
      'store/',
    ],
    packages: [],
    why: 'audio, net and observability are leaves: they import no call, leg, server or console module',
  },
];

export interface Violation {
  file: string;
  imports: string;
  why: string;
}

const PACKAGE_RE = /^[ \t]*(?:import|export)\s(?:[^;'"`]*?\bfrom\s*)?['"]([^'"./][^'"]*)['"]/gm;

/** Package specifiers of one source text (exported for the tests). */
export function packageSpecifiers(text: string): string[] {
  const out: string[] = [];
  PACKAGE_RE.lastIndex = 0;
  for (let m = PACKAGE_RE.exec(text); m; m = PACKAGE_RE.exec(text)) out.push(m[1]!);
  return out;
}

function matchesPackage(spec: string, pkg: string): boolean {
  return pkg.endsWith('/') ? spec.startsWith(pkg) : spec === pkg || spec.startsWith(`${pkg}/`);
}

/** Every import under dir that breaks one of the rules. */
export function layerViolations(dir: string, rules: readonly LayerRule[] = LAYER_RULES): Violation[] {
  const root = resolve(dir);
  const rel = (file: string): string => relative(root, file).split(sep).join('/');
  const out: Violation[] = [];
  for (const [file, deps] of importGraph(root)) {
    const name = rel(file);
    for (const rule of rules) {
      if (!rule.from.some((f) => name.startsWith(f))) continue;
      for (const dep of deps.map(rel)) {
        if (rule.forbidden.some((f) => dep.startsWith(f))) out.push({ file: name, imports: dep, why: rule.why });
      }
      for (const spec of packageSpecifiers(readFileSync(file, 'utf8'))) {
        if (rule.packages.some((p) => matchesPackage(spec, p))) out.push({ file: name, imports: spec, why: rule.why });
      }
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.imports.localeCompare(b.imports));
}

function main(argv: string[]): number {
  const dir = argv[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  if (!existsSync(dir)) {
    console.error(`check-layers: no such directory: ${dir}`);
    return 2;
  }
  const found = layerViolations(dir);
  if (found.length === 0) {
    console.log(`check-layers: ${LAYER_RULES.length} layer rules hold`);
    return 0;
  }
  console.error(`check-layers: ${found.length} forbidden import(s) under ${dir}:`);
  for (const v of found) console.error(`  ${v.file} -> ${v.imports}  (${v.why})`);
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
