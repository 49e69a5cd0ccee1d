/**
 * What the load benchmark reads from outside the bridge: its Prometheus text (scraped before and
 * after each measuring window and subtracted), and its CPU time and RSS from /proc.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

const CLK_TCK = 100; // USER_HZ on Linux; /proc/<pid>/stat counts CPU time in these ticks

/** User and system CPU time of a whole process (all threads), in ms. */
export function cpuTimes(pid: number | 'self'): { userMs: number; sysMs: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: (Number(rest[11]) * 1000) / CLK_TCK, sysMs: (Number(rest[12]) * 1000) / CLK_TCK };
}

/** CPU ms of a process's main thread and of all its other threads (GC helpers, libuv pool). */
export function threadCpuMs(pid: number): { mainMs: number; helpersMs: number } {
  let mainMs = 0;
  let helpersMs = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK_TCK;
    if (Number(tid) === pid) mainMs += ms;
    else helpersMs += ms;
  }
  return { mainMs, helpersMs };
}

/**
 * CPU time of a whole process (all threads) in ms at nanosecond resolution (/proc/<pid>/task/*\/schedstat),
 * for short windows where utime + stime's 10 ms ticks would be the error.
 */
export function cpuPreciseMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e6;
}

/** utime + stime of a whole process (all threads), in ms. */
export function cpuMs(pid: number | 'self'): number {
  const t = cpuTimes(pid);
  return t.userMs + t.sysMs;
}

/**
 * The main thread's scheduler stats (/proc/<pid>/schedstat): ms on the CPU and ms spent runnable
 * but waiting for a CPU — the second is what other processes on the core cost it.
 */
export function schedMs(pid: number | 'self'): { runMs: number; waitMs: number } {
  const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
  return { runMs: (run ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 };
}

/** Resident set size in MB. */
export function rssMb(pid: number | 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Per core, in ms from /proc/stat: time running processes (user + nice + system), interrupt time
 * (irq + softirq), and steal (the hypervisor ran someone else on this virtual CPU).
 */
export function coreTimes(): { procMs: number; irqMs: number; stealMs: number }[] {
  const out: { procMs: number; irqMs: number; stealMs: number }[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user already
    const v = m[2]!.trim().split(/\s+/).map(Number);
    out[Number(m[1])] = {
      procMs: ((v[0]! + v[1]! + v[2]!) * 1000) / CLK_TCK,
      irqMs: ((v[5]! + v[6]!) * 1000) / CLK_TCK,
      stealMs: ((v[7] ?? 0) * 1000) / CLK_TCK,
    };
  }
  return out;
}

/**
 * Time each core ran processes, in ms. Interrupt and softirq time is left out: on loopback most
 * of it is our own traffic's TCP processing (reported separately).
 */
export function coreBusyMs(): number[] {
  return coreTimes().map((t) => t.procMs);
}

/** One scrape: `name{labels}` → value (labels in the order the exporter prints them). */
export type Scrape = Map<string, number>;

export function parsePrometheus(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) continue;
    const value = Number(line.slice(sp + 1));
    if (Number.isFinite(value) || line.endsWith('+Inf')) out.set(line.slice(0, sp), value);
  }
  return out;
}

/**
 * The METRICS_TOKEN the benchmarks give the bridges they start (scripts/load/bridge-child.ts) and
 * scrape with: random per run, as `openssl rand -hex 32` would make one.
 */
export const BENCH_METRICS_TOKEN = randomBytes(32).toString('hex');

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` },
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

/** Sum of every series of `name` whose labels include all of `want` (after − before). */
export function delta(before: Scrape, after: Scrape, name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, v] of after) {
    if (!matches(key, name, want)) continue;
    sum += v - (before.get(key) ?? 0);
  }
  return sum;
}

export function gauge(s: Scrape, name: string, want: Record<string, string> = {}): number {
  let sum = 0;
  for (const [key, v] of s) if (matches(key, name, want)) sum += v;
  return sum;
}

function matches(key: string, name: string, want: Record<string, string>): boolean {
  if (key !== name && !key.startsWith(`${name}{`)) return false;
  for (const [k, v] of Object.entries(want)) if (!key.includes(`${k}="${v}"`)) return false;
  return true;
}

export interface HistogramDelta {
  count: number;
  /** [upper bound in seconds, cumulative count] ascending, +Inf last */
  buckets: [number, number][];
  sum: number;
}

/** A Prometheus histogram's change between two scrapes, for one label set. */
export function histogramDelta(
  before: Scrape,
  after: Scrape,
  name: string,
  want: Record<string, string>,
): HistogramDelta {
  const buckets: [number, number][] = [];
  for (const [key, v] of after) {
    if (!key.startsWith(`${name}_bucket{`) || !matches(key, `${name}_bucket`, want)) continue;
    const le = /le="([^"]+)"/.exec(key)?.[1];
    if (le === undefined) continue;
    buckets.push([le === '+Inf' ? Infinity : Number(le), v - (before.get(key) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  return {
    buckets,
    count: delta(before, after, `${name}_count`, want),
    sum: delta(before, after, `${name}_sum`, want),
  };
}

/**
 * The q-quantile (0..1) of a bucketed histogram, interpolated linearly inside its bucket (the
 * estimate Prometheus' histogram_quantile makes). In seconds; NaN without samples.
 */
export function histogramQuantile(h: HistogramDelta, q: number): number {
  const total = h.buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, cum] of h.buckets) {
    if (cum >= rank) {
      if (le === Infinity) return lowerBound;
      const inBucket = cum - lowerCount;
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le;
    }
    lowerBound = le;
    lowerCount = cum;
  }
  return lowerBound;
}

/** Upper bound of the highest non-empty bucket: what a histogram can say about the maximum. */
export function histogramMaxBound(h: HistogramDelta): number {
  let prev = 0;
  let bound = NaN;
  for (const [le, cum] of h.buckets) {
    if (cum > prev) bound = le;
    prev = cum;
  }
  return bound;
}

/** Everything read from /proc at one edge of a measuring window. */
export interface ProcSnapshot {
  atMs: number;
  bridge: { userMs: number; sysMs: number };
  bridgeThreads: { mainMs: number; helpersMs: number };
  selfMs: number;
  cores: { procMs: number; irqMs: number; stealMs: number }[];
  sched: { bridge: { runMs: number; waitMs: number }; self: { runMs: number; waitMs: number } };
}

export function procSnapshot(bridgePid: number): ProcSnapshot {
  return {
    atMs: performance.now(),
    bridge: cpuTimes(bridgePid),
    bridgeThreads: threadCpuMs(bridgePid),
    selfMs: cpuMs('self'),
    cores: coreTimes(),
    sched: { bridge: schedMs(bridgePid), self: schedMs('self') },
  };
}

/** What happened between two snapshots, as % of the window (of one core) unless named otherwise. */
export function procDelta(a: ProcSnapshot, b: ProcSnapshot) {
  const wallMs = b.atMs - a.atMs;
  const pct = (ms: number) => (100 * ms) / wallMs;
  const bridgeMs = b.bridge.userMs + b.bridge.sysMs - a.bridge.userMs - a.bridge.sysMs;
  const selfMs = b.selfMs - a.selfMs;
  const core = (i: number) => ({
    proc: b.cores[i]!.procMs - a.cores[i]!.procMs,
    irq: b.cores[i]!.irqMs - a.cores[i]!.irqMs,
    steal: b.cores[i]!.stealMs - a.cores[i]!.stealMs,
  });
  return {
    wallMs,
    bridgeMs,
    bridgePct: pct(bridgeMs),
    /** share of the bridge's CPU spent in the kernel, % */
    bridgeSysShare: (100 * (b.bridge.sysMs - a.bridge.sysMs)) / Math.max(1, bridgeMs),
    bridgeHelpersPct: pct(b.bridgeThreads.helpersMs - a.bridgeThreads.helpersMs),
    selfPct: pct(selfMs),
    /** other processes on core 0 (the bridge's) and core 1 (ours) */
    foreignPct: [Math.max(0, pct(core(0).proc - bridgeMs)), Math.max(0, pct(core(1).proc - selfMs))] as [
      number,
      number,
    ],
    irqPct: [pct(core(0).irq), pct(core(1).irq)] as [number, number],
    stealPct: [pct(core(0).steal), pct(core(1).steal)] as [number, number],
    runqWaitPct: [
      pct(b.sched.bridge.waitMs - a.sched.bridge.waitMs),
      pct(b.sched.self.waitMs - a.sched.self.waitMs),
    ] as [number, number],
  };
}
