/**
 * Import-cycle rule (`npm run check:cycles`, run by `.ci/run` before the tests): no module under
 * src/ may reach itself through relative imports. Type-only imports count: a type cycle is still a
 * design cycle, and the next value import along it makes it a load-order one.
 *
 *   tsx scripts/check-cycles.ts [DIR]      (default: src) — exits 1 and lists every cycle found
 *
 * Dependency-free on purpose: it reads static `import … from '…'`, `export … from '…'` and
 * `import '…'` statements that start a line (so JSDoc examples and strings do not count), resolves
 * the relative ones ('./x.js' → x.ts, './dir' → dir/index.ts) and reports each strongly connected
 * component of more than one file (or a file importing itself) with one concrete path through it.
 * Dynamic `import()` is not followed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Cycles tolerated for now, each as the sorted list of its files relative to the scanned
 * directory, with the reason. Empty: add an entry only with a comment saying why it cannot be
 * broken yet.
 */
export const ALLOWED_CYCLES: readonly (readonly string[])[] = [];

export interface Cycle {
  /** Files of the strongly connected component, relative to the scanned directory, sorted. */
  files: string[];
  /** One concrete import path through the component, first file repeated at the end. */
  path: string[];
}

const FROM_RE = /^[ \t]*(?:import|export)\s[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm;
const BARE_RE = /^[ \t]*import\s*['"]([^'"]+)['"]/gm;

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listSources(full));
    else if (/\.(ts|mts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Relative import specifiers of one source text (exported for the tests). */
export function importSpecifiers(text: string): string[] {
  const specs: string[] = [];
  for (const re of [FROM_RE, BARE_RE]) {
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m[1]!.startsWith('.')) specs.push(m[1]!);
    }
  }
  return specs;
}

function resolveSpecifier(fromFile: string, spec: string, known: Set<string>): string | undefined {
  const base = resolve(dirname(fromFile), spec);
  const stem = base.replace(/\.(m?js|jsx|m?ts|tsx)$/, '');
  for (const candidate of [base, `${stem}.ts`, `${stem}.mts`, `${stem}.tsx`, join(base, 'index.ts')]) {
    if (known.has(candidate)) return candidate;
  }
  return undefined;
}

/** The import graph of every TypeScript file under dir: absolute path → imported absolute paths. */
export function importGraph(dir: string): Map<string, string[]> {
  const files = listSources(resolve(dir));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const deps = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      const target = resolveSpecifier(file, spec, known);
      if (target) deps.add(target);
    }
    graph.set(file, [...deps].sort());
  }
  return graph;
}

/** Strongly connected components (Tarjan), iteratively so deep graphs cannot overflow the stack. */
function components(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const deps = graph.get(frame.node) ?? [];
      if (frame.next < deps.length) {
        const dep = deps[frame.next++]!;
        if (!index.has(dep)) {
          index.set(dep, counter);
          low.set(dep, counter++);
          stack.push(dep);
          onStack.add(dep);
          work.push({ node: dep, next: 0 });
        } else if (onStack.has(dep)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(dep)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const comp: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          comp.push(member);
        } while (member !== frame.node);
        out.push(comp);
      }
    }
  }
  return out;
}

/** A shortest path from start back to start inside one component (breadth-first). */
function pathThrough(start: string, members: Set<string>, graph: Map<string, string[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const dep of graph.get(node) ?? []) {
      if (!members.has(dep)) continue;
      if (dep === start) {
        const path = [start];
        for (let at = node; at !== start; at = prev.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!prev.has(dep)) {
        prev.set(dep, node);
        queue.push(dep);
      }
    }
  }
  return [start, start];
}

/** Every import cycle under dir, allowed or not. */
export function findCycles(dir: string): Cycle[] {
  const root = resolve(dir);
  const graph = importGraph(root);
  const rel = (file: string): string => relative(root, file).split(sep).join('/');
  const cycles: Cycle[] = [];
  for (const comp of components(graph)) {
    const selfLoop = comp.length === 1 && (graph.get(comp[0]!) ?? []).includes(comp[0]!);
    if (comp.length < 2 && !selfLoop) continue;
    const sorted = [...comp].sort();
    cycles.push({ files: sorted.map(rel), path: pathThrough(sorted[0]!, new Set(comp), graph).map(rel) });
  }
  return cycles.sort((a, b) => a.files[0]!.localeCompare(b.files[0]!));
}

/** The cycles under dir that are not in the allow-list. */
export function forbiddenCycles(dir: string, allowed: readonly (readonly string[])[] = ALLOWED_CYCLES): Cycle[] {
  const allowedKeys = new Set(allowed.map((files) => [...files].sort().join('\n')));
  return findCycles(dir).filter((c) => !allowedKeys.has(c.files.join('\n')));
}

function main(argv: string[]): number {
  const dir = argv[0] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  if (!existsSync(dir)) {
    console.error(`check-cycles: no such directory: ${dir}`);
    return 2;
  }
  const cycles = forbiddenCycles(dir);
  if (cycles.length === 0) {
    console.log(`check-cycles: no import cycles under ${relative(process.cwd(), resolve(dir)) || '.'}`);
    return 0;
  }
  console.error(`check-cycles: ${cycles.length} import cycle(s) under ${dir}:`);
  for (const c of cycles) {
    console.error(`  ${c.path.join(' -> ')}`);
    if (c.files.length > c.path.length - 1)
      console.error(`    (component of ${c.files.length} files: ${c.files.join(', ')})`);
  }
  return 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
