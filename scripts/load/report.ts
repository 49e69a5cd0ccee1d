/** One measured step of the load benchmark, and how it is printed. */
import type { WindowStats } from './clients.js';

export interface Row {
  n: number;
  placed: number;
  cpuPct: number;
  cpuMsPerCallSec: number;
  /** bridge CPU per caller frame it took in (one frame each way, plus marks): independent of starvation */
  cpuUsPerFrame: number;
  /** after a full GC, calls still up */
  rssMb: number;
  rssPerCallKb: number;
  heapMb: number;
  /** V8 heap + external (Buffers) per call, over the warmed-up idle bridge, after a full GC */
  heapPerCallKb: number;
  /**
   * Added latency in ms, [p50, p99, max bucket bound] per direction: bridge_added_latency_seconds
   * (synchronous processing) + bridge_write_hold_seconds (the write coalescer's wait), quantile by quantile.
   */
  lat: { in: [number, number, number]; out: [number, number, number] };
  /** the write coalescer's part of `lat`: p99 of bridge_write_hold_seconds per direction, ms; NaN when it is off */
  holdP99Ms: { in: number; out: number };
  win: WindowStats;
  expectedFrames: number;
  bridgeDropped: number;
  shortfall: number;
  maxShortfall: number;
  missing: number;
  droppedCalls: number;
  loadCpuPct: number;
  /** event-loop lag p99 beyond the monitor's resolution, ms */
  loadLagMs: number;
  bridgeLagMs: number;
  /** CPU other processes used on the bridge's core / the load side's core during the window, % */
  foreign: [number, number];
  /** CPU of the bridge's threads other than the event loop (V8 GC helpers, libuv pool), % of the core */
  helpersPct: number;
  /** time the bridge's / the load side's main thread was runnable but not running, % of the window */
  runqWaitPct: [number, number];
  /** interrupt + softirq time of each core during the window, % (loopback TCP the processes were not charged for) */
  irqPct: [number, number];
  /** time the hypervisor took each virtual CPU away, % */
  stealPct: [number, number];
  /** share of the bridge's CPU spent in the kernel (loopback TCP included), % */
  sysShare: number;
  /** the measuring window in the CPU profile's clock (process.hrtime, µs) */
  windowUs: { fromUs: number; toUs: number };
  realtime: boolean;
  why: string[];
  /** other processes used the cores during the window even after a retry */
  noisy?: boolean;
  /** CPU % of every run of a step measured more than once (near the limit); this row is the median */
  repeats?: number[];
}

const FIRST_BUCKET_MS = 0.1;
const LAST_BUCKET_MS = 100;

export const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
/** the first bucket is 0.1 ms: a quantile inside it is only known to be below that */
const fLat = (v: number) => (!Number.isFinite(v) ? '-' : v <= FIRST_BUCKET_MS ? `<${FIRST_BUCKET_MS}` : v.toFixed(2));
/** a histogram's maximum is only known to its bucket: "≤ bound", or "> last bound" past it */
const maxBound = (v: number) => (v === Infinity ? `>${LAST_BUCKET_MS}` : Number.isFinite(v) ? `≤${v}` : '-');

export function stepLine(r: Row): string {
  return (
    `N=${r.n}: bridge CPU ${f1(r.cpuPct)}% (${f1(r.cpuUsPerFrame)} µs per frame in+out; kernel ${f1(r.sysShare)}% of it; ` +
    `helper threads ${f1(r.helpersPct)}%), RSS ${f1(r.rssMb)} MB (JS heap ${f1(r.heapMb)} MB, ${f1(r.heapPerCallKb)} KB/call), ` +
    `added p99 in/out ${fLat(r.lat.in[1])}/${fLat(r.lat.out[1])} ms${Number.isNaN(r.holdP99Ms.in) ? '' : ` (write hold ${fLat(r.holdP99Ms.in)}/${fLat(r.holdP99Ms.out)})`}, e2e p50/p99 ${f1(r.win.e2eP50Ms)}/${f1(r.win.e2eP99Ms)} ms` +
    `${r.realtime ? '' : ` — real time lost: ${r.why.join('; ')}`}\n` +
    `       bridge loop lag p99 ${f1(r.bridgeLagMs)} ms; load side CPU ${f1(r.loadCpuPct)}%, loop lag p99 ${f1(r.loadLagMs)} ms; ` +
    `softirq core 0/1 ${f1(r.irqPct[0])}/${f1(r.irqPct[1])}%; steal ${f1(r.stealPct[0])}/${f1(r.stealPct[1])}%; run-queue wait bridge/load ${f1(r.runqWaitPct[0])}/${f1(r.runqWaitPct[1])}%`
  );
}

export function table(rows: Row[]): string {
  const head = [
    'N',
    'CPU %core',
    'CPU ms/call·s',
    'RSS MB',
    'RSS KB/call',
    'heap KB/call',
    'in p50/p99/max ms',
    'out p50/p99/max ms',
    'e2e p50/p99/max ms',
    'frames sent/back',
    'late',
    'dropped',
    'shortfall (max/call)',
    'real time',
  ];
  const body = rows.map((r) => [
    // RSS can fall below the warmed-up baseline (the allocator hands pages back): no per-call figure then.
    String(r.n),
    r.repeats ? `${f1(r.cpuPct)} (${r.repeats.map(f1).join('/')})` : f1(r.cpuPct),
    f2(r.cpuMsPerCallSec),
    f1(r.rssMb),
    r.rssPerCallKb < 0 ? '<0' : f1(r.rssPerCallKb),
    f1(r.heapPerCallKb),
    `${fLat(r.lat.in[0])}/${fLat(r.lat.in[1])}/${maxBound(r.lat.in[2])}`,
    `${fLat(r.lat.out[0])}/${fLat(r.lat.out[1])}/${maxBound(r.lat.out[2])}`,
    `${f1(r.win.e2eP50Ms)}/${f1(r.win.e2eP99Ms)}/${f1(r.win.e2eMaxMs)}`,
    `${r.win.framesSent}/${r.win.framesReceived}`,
    String(r.win.late),
    String(r.bridgeDropped),
    `${r.shortfall} (${r.maxShortfall})`,
    `${r.realtime ? 'yes' : 'NO'}${r.noisy ? ' (noisy)' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** KB per extra call of a memory figure (MB), fitted over the steps: the least-squares slope. */
export function slopeKbPerCall(rows: Row[], mb: (r: Row) => number): number {
  const pts = rows.filter((r) => Number.isFinite(mb(r)));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, r) => a + r.n, 0) / pts.length;
  const my = pts.reduce((a, r) => a + mb(r), 0) / pts.length;
  const sxy = pts.reduce((a, r) => a + (r.n - mx) * (mb(r) - my), 0);
  const sxx = pts.reduce((a, r) => a + (r.n - mx) ** 2, 0);
  return sxx > 0 ? (sxy / sxx) * 1024 : NaN;
}
