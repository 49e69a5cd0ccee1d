/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the time went.
 *
 *   tsx scripts/load/cpuprofile-top.ts <file.cpuprofile | dir> [top=15]
 *
 * Prints the top functions by self time (function + file:line), self time by module/file area,
 * and the inclusive time of the project's own functions (src/…), so a hot path can be read as a
 * call chain. Self time comes from the sample time deltas, not hit counts × interval.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  key: string;
  ms: number;
  pct: number;
}
export interface ProfileSummary {
  totalMs: number;
  /** time spent in the event loop waiting (`(idle)`) */
  idleMs: number;
  selfTop: ProfileEntry[];
  byArea: ProfileEntry[];
  ownInclusive: ProfileEntry[];
}

/** file:///work/main/node_modules/ws/lib/receiver.js → ws/lib/receiver.js; src paths from src/. */
function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const src = url.indexOf('/src/');
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, '');
}

/** The package (node_modules), the project folder (src/call), or node's own internals. */
function area(url: string): string {
  const s = shortUrl(url);
  if (!s) return '(native / V8)';
  if (s.startsWith('node:')) return 'node:internal';
  if (s.startsWith('src/')) return s.split('/').slice(0, 2).join('/');
  const parts = s.split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function label(cf: CallFrame): string {
  const name = cf.functionName || '(anonymous)';
  const file = shortUrl(cf.url);
  // tsx-compiled modules report line 0 for every function: the name and file say enough there.
  return file ? `${name}  ${file}${cf.lineNumber > 0 ? `:${cf.lineNumber + 1}` : ''}` : name;
}

/** Sample times in the profile's clock (µs, CLOCK_MONOTONIC on Linux: process.hrtime's clock). */
export interface ProfileWindow {
  fromUs: number;
  toUs: number;
}

export function summarizeProfile(profile: CpuProfile, top = 15, window?: ProfileWindow): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    t += dt;
    if (dt <= 0) continue;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    totalUs += dt;
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + dt);
  }

  const selfByKey = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') idleUs += us;
    const key = label(cf);
    selfByKey.set(key, (selfByKey.get(key) ?? 0) + us);
    const a = cf.url ? area(cf.url) : cf.functionName.startsWith('(') ? cf.functionName : '(native / V8)';
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + us);
  }

  // Inclusive time of project functions, counted once per stack even when recursive.
  const inclusive = new Map<string, number>();
  const onStack = new Map<string, number>();
  const walk = (id: number): number => {
    const node = byId.get(id)!;
    const own = node.callFrame.url.includes('/src/');
    const key = own ? label(node.callFrame) : '';
    if (own) onStack.set(key, (onStack.get(key) ?? 0) + 1);
    let us = selfUs.get(id) ?? 0;
    for (const c of node.children ?? []) us += walk(c);
    if (own) {
      const depth = onStack.get(key)! - 1;
      onStack.set(key, depth);
      if (depth === 0) inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
    return us;
  };
  const root = profile.nodes[0];
  if (root) walk(root.id);

  const busyUs = Math.max(1, totalUs - idleUs);
  const entries = (m: Map<string, number>, n: number, skipIdle: boolean): ProfileEntry[] =>
    [...m.entries()]
      .filter(([k]) => !(skipIdle && k.startsWith('(idle)')))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, us]) => ({ key, ms: us / 1000, pct: (100 * us) / busyUs }));
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    selfTop: entries(selfByKey, top, true),
    byArea: entries(selfByArea, 12, true),
    ownInclusive: entries(inclusive, top, false),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const busy = s.totalMs - s.idleMs;
  const lines = [
    `profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(busy / 1000).toFixed(1)} s busy (${((100 * busy) / s.totalMs).toFixed(0)}%); percentages are of busy time`,
    '',
    'top functions by self time:',
    ...s.selfTop.map(
      (e, i) =>
        `${String(i + 1).padStart(3)}. ${e.pct.toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.key}`,
    ),
    '',
    'self time by area:',
    ...s.byArea.map((e) => `     ${e.pct.toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.key}`),
    '',
    'project functions by inclusive time:',
    ...s.ownInclusive.map((e) => `     ${e.pct.toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.key}`),
  ];
  return lines.join('\n');
}

/**
 * The main thread's profile of the newest process in a directory (or the file itself). Files are
 * named CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; with `--import tsx` the module loader
 * runs in a worker thread that writes its own (small) profile, which is not the one wanted.
 */
export function findProfile(pathOrDir: string): string {
  if (statSync(pathOrDir).isFile()) return pathOrDir;
  const files = readdirSync(pathOrDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(pathOrDir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!files.length) throw new Error(`no .cpuprofile in ${pathOrDir}`);
  const pidOf = (f: string) => f.split('.').at(-4);
  const newest = files.filter((f) => pidOf(f) === pidOf(files[0]!));
  return newest.find((f) => f.split('.').at(-3) === '0') ?? newest[0]!;
}

export function summarizeFile(path: string, top = 15, window?: ProfileWindow): string {
  const file = findProfile(path);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const scope = window
    ? ` (samples from ${((window.toUs - window.fromUs) / 1e6).toFixed(1)} s of steady state only)`
    : '';
  return `${file}${scope}\n${formatSummary(summarizeProfile(profile, top, window))}`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = process.argv[2];
  if (!target) {
    process.stderr.write('usage: tsx scripts/load/cpuprofile-top.ts <file.cpuprofile | dir> [top=15]\n');
    process.exit(2);
  }
  process.stdout.write(`${summarizeFile(target, Number(process.argv[3]) || 15)}\n`);
}
