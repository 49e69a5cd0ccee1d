/**
 * Capacity benchmark (`npm run bench:load`): how many concurrent calls one core of bridge holds in
 * real time. Results and method: docs/capacity.md.
 *
 * The bridge runs alone in a child process pinned to core 0 (scripts/load/bridge-proc.ts: the
 * production start path, signatures on). This process is pinned to core 1 and holds the load
 * side: the offline engine in `loopback` mode (every caller frame goes straight back as agent
 * audio) and lightweight Twilio-like callers (scripts/load/clients.ts). For each step N it ramps
 * N calls up, holds them, measures, and tears them down:
 *   bridge CPU (/proc utime+stime) and RSS, its own `bridge_added_latency_seconds` histogram per
 *   direction (scraped before/after the window), the callers' round trip caller frame → agent
 *   frame back (bridge twice + engine hop), late frames, frames the bridge dropped, and the agent
 *   audio that never came back (sent − received per call after a drain).
 * It stops at the first step that loses real time, then bisects between the last good step and it.
 * A step within 5 points of the CPU limit is measured three times and judged by the median.
 *
 *   tsx scripts/bench-load.ts [--steps 50,100,200,400,800] [--hold 10] [--ramp 2] [--rate 24000]
 *                             [--late-ms 60] [--refine 2] [--profile [dir]]   (profile: one step, default N=200)
 *                             [--polling-load]   (the load side polls instead of sleeping: scripts/load/poll.ts)
 *                             [--coalesce-ms N]  (bridge.write_coalesce_ms of the bridge under test; 0 = off; default 1)
 * BENCH_BRIDGE_NODE_ARGS adds node flags to the bridge (e.g. "--trace-gc").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { silentLogger } from '../src/observability/logger.js';
import { startOfflineEngine } from '../src/sim/engine/index.js';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { BENCH_NUMBER, BRIDGE_LOG, BridgeChild, pinSelf, writeBenchConfig } from './load/bridge-child.js';
import { LoadPool } from './load/clients.js';
import { summarizeFile } from './load/cpuprofile-top.js';
import { keepPolling, pollingLoadRequested } from './load/poll.js';
import {
  coreBusyMs,
  cpuMs,
  delta,
  histogramDelta,
  histogramMaxBound,
  histogramQuantile,
  procDelta,
  procSnapshot,
  rssMb,
  scrape,
  type Scrape,
} from './load/probes.js';
import { f1, type Row, slopeKbPerCall, stepLine, table } from './load/report.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v && !v.startsWith('--') ? v : '';
}

const PROFILE = arg('profile');
/** bridge.write_coalesce_ms for the bridge under test (0 = off); unset = the shipped default (1 ms) */
const COALESCE_MS = arg('coalesce-ms') !== undefined ? Number(arg('coalesce-ms')) : undefined;
const PROFILE_DIR = PROFILE ? resolve(PROFILE) : '/tmp/prof';
const STEPS = (arg('steps') ?? (PROFILE !== undefined ? '200' : '50,100,200,400,800'))
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const HOLD_S = Number(arg('hold') ?? 10);
const RAMP_S = Number(arg('ramp') ?? 2);
const RATE = arg('rate') ?? '24000';
const LATE_MS = Number(arg('late-ms') ?? 60);
const POLLING_LOAD = pollingLoadRequested();
const REFINE = PROFILE !== undefined ? 0 : Number(arg('refine') ?? 2);
const MAX_CPU_PCT = 95;
/**
 * More than 5% of frames late (p95 round trip over LATE_MS) is lost real time: an overloaded
 * bridge queues every frame. A lone pause of the VM (~100 ms, all calls at once) is not.
 */
const MAX_LATE_FRACTION = 0.05;
/** frames a call may legitimately owe at hang-up: the resamplers' and framers' partial frame */
const SHORTFALL_ALLOWANCE = 1;
const TARGET = { calls: 300, p99Ms: 5 };
const WATCHDOG_MS = 8 * 60_000;
/** a core counts as quiet when other processes use less than this % of it */
const QUIET_PCT = 10;
const QUIET_WAIT_MAX_MS = 20_000;
const NOISY_RETRIES = 1;
const WARMUP_CALLS = 20;
/** monitorEventLoopDelay reports the whole timer interval: the resolution is not lag */
const BRIDGE_LAG_RESOLUTION_MS = 20; // prom-client's collectDefaultMetrics({ eventLoopMonitoringPrecision: 20 })
const LOAD_LAG_RESOLUTION_MS = 10;
/** a polling load side whose loop lags more than this (p99) may be what limits the step */
const LOAD_LAG_LIMIT_MS = 10;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const bridge = new BridgeChild();

/** Other processes' CPU (% of each core) over `ms`, our own two processes excluded. */
async function foreignLoad(bridgePid: number, ms: number): Promise<[number, number]> {
  const c0 = coreBusyMs();
  const b0 = cpuMs(bridgePid);
  const s0 = cpuMs('self');
  await sleep(ms);
  const c1 = coreBusyMs();
  const b1 = cpuMs(bridgePid);
  const s1 = cpuMs('self');
  return [(100 * (c1[0]! - c0[0]! - (b1 - b0))) / ms, (100 * (c1[1]! - c0[1]! - (s1 - s0))) / ms];
}

/**
 * The machine may be shared (2 cores): a test suite running next to the benchmark steals the
 * bridge's core. Waits (bounded) until both cores are quiet before a step starts.
 */
async function waitQuiet(bridgePid: number): Promise<void> {
  const deadline = performance.now() + QUIET_WAIT_MAX_MS;
  let warned = false;
  for (;;) {
    const [a, b] = await foreignLoad(bridgePid, 1000);
    if (a < QUIET_PCT && b < QUIET_PCT) return;
    if (performance.now() > deadline) {
      console.log(`  other processes still use ${a.toFixed(0)}% / ${b.toFixed(0)}% of cores 0/1; measuring anyway`);
      return;
    }
    if (!warned)
      console.log(
        `  waiting for other processes to leave the cores (${a.toFixed(0)}% / ${b.toFixed(0)}% of cores 0/1 busy)…`,
      );
    warned = true;
  }
}

/** Calls the bridge still holds; 1 when it does not answer (the caller keeps waiting, bounded). */
async function activeCalls(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(3000) });
    return ((await res.json()) as { activeCalls?: number }).activeCalls ?? 1;
  } catch {
    return 1;
  }
}

interface MemoryBase {
  rssMb: number;
  heapMb: number;
  externalMb: number;
}

/** Ramp N calls up, settle, measure for `holdS`, read memory (after a GC), drain, hang up. */
async function runStep(n: number, base: MemoryBase, holdS = HOLD_S): Promise<Row> {
  const pool = new LoadPool({
    bridgeUrl: bridge.url,
    publicUrl: bridge.url,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    to: BENCH_NUMBER,
    lateMs: LATE_MS,
  });
  pool.startTicker();
  const failures: string[] = [];
  const placing: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    placing.push(pool.place().catch((err: Error) => void failures.push(err.message)));
    await sleep((RAMP_S * 1000) / n);
  }
  await Promise.all(placing);
  if (failures.length) console.log(`  ${failures.length} call(s) failed to start, e.g. ${failures[0]}`);
  await sleep(1000); // settle: every call in steady state before measuring

  const scrapeErrors: string[] = [];
  // An overloaded bridge may not answer /metrics in time: that is a finding, not a crash.
  const safeScrape = (): Promise<Scrape> =>
    scrape(bridge.url).catch((err: Error) => {
      scrapeErrors.push(err.message);
      return new Map();
    });
  const lag = monitorEventLoopDelay({ resolution: LOAD_LAG_RESOLUTION_MS });
  const before = await safeScrape();
  const p0 = procSnapshot(bridge.pid);
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  lag.enable();
  pool.beginWindow();
  await sleep(holdS * 1000);
  const win = pool.endWindow();
  lag.disable();
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const p = procDelta(p0, procSnapshot(bridge.pid));
  const after = await safeScrape();
  const mem = await bridge.memory().catch(() => ({ rssMb: rssMb(bridge.pid), heapMb: NaN, externalMb: NaN }));

  pool.stopSending();
  await sleep(500); // the last frames come back; the bridge's 60 ms tail flush has run
  const totals = pool.totals();
  await pool.hangUpAll();
  pool.close();
  for (let i = 0; i < 100 && (await activeCalls(bridge.url)) > 0; i++) await sleep(100);

  let heldCount = 0;
  const quantiles = (name: string, direction: string): [number, number, number] => {
    const h = histogramDelta(before, after, name, { direction });
    if (name === 'bridge_write_hold_seconds') heldCount += h.count;
    if (h.count === 0) return [0, 0, 0]; // nothing held (write coalescing off)
    return [histogramQuantile(h, 0.5) * 1000, histogramQuantile(h, 0.99) * 1000, histogramMaxBound(h) * 1000];
  };
  // Added latency = the synchronous processing of a frame + the wait of its socket's oldest held
  // message in the write coalescer, each quantile summed: an upper estimate of their sum's.
  const held = {
    in: quantiles('bridge_write_hold_seconds', 'to_engine'),
    out: quantiles('bridge_write_hold_seconds', 'to_twilio'),
  };
  const latency = (direction: string, hold: [number, number, number]): [number, number, number] => {
    const sync = quantiles('bridge_added_latency_seconds', direction);
    return [sync[0] + hold[0], sync[1] + hold[1], sync[2] + hold[2]];
  };
  const placed = totals.calls;
  const bridgeDropped = delta(before, after, 'bridge_frames_dropped_total');
  const missing = Math.max(0, totals.shortfall - SHORTFALL_ALLOWANCE * placed);
  const row: Row = {
    n,
    placed,
    cpuPct: p.bridgePct,
    cpuMsPerCallSec: p.bridgeMs / (placed * (p.wallMs / 1000)),
    cpuUsPerFrame:
      (1000 * p.bridgeMs) / Math.max(1, delta(before, after, 'bridge_frames_total', { direction: 'from_twilio' })),
    rssMb: mem.rssMb,
    rssPerCallKb: ((mem.rssMb - base.rssMb) * 1024) / Math.max(1, placed),
    heapMb: mem.heapMb,
    heapPerCallKb: ((mem.heapMb + mem.externalMb - base.heapMb - base.externalMb) * 1024) / Math.max(1, placed),
    lat: { in: latency('inbound', held.in), out: latency('outbound', held.out) },
    holdP99Ms: heldCount > 0 ? { in: held.in[1], out: held.out[1] } : { in: NaN, out: NaN },
    win,
    expectedFrames: Math.round((placed * p.wallMs) / 20),
    bridgeDropped,
    shortfall: totals.shortfall,
    maxShortfall: totals.maxShortfall,
    missing,
    droppedCalls: totals.droppedCalls + failures.length,
    loadCpuPct: p.selfPct,
    loadLagMs: lag.percentile(99) / 1e6 - LOAD_LAG_RESOLUTION_MS,
    bridgeLagMs: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000 - BRIDGE_LAG_RESOLUTION_MS,
    foreign: p.foreignPct,
    helpersPct: p.bridgeHelpersPct,
    runqWaitPct: p.runqWaitPct,
    irqPct: p.irqPct,
    stealPct: p.stealPct,
    sysShare: p.bridgeSysShare,
    windowUs: { fromUs, toUs },
    realtime: true,
    why: [],
  };
  if (scrapeErrors.length) row.why.push(`GET /metrics failed (${scrapeErrors[0]})`);
  if (row.cpuPct >= MAX_CPU_PCT) row.why.push(`bridge CPU ${row.cpuPct.toFixed(0)}%`);
  if (bridgeDropped > 0) row.why.push(`${bridgeDropped} frames dropped by the bridge`);
  if (missing > 0) row.why.push(`${missing} agent frames never came back`);
  if (row.droppedCalls > 0) row.why.push(`${row.droppedCalls} calls failed or dropped`);
  if (win.unmatched > 0) row.why.push(`${win.unmatched} agent frames without a caller frame`);
  if (win.late > MAX_LATE_FRACTION * win.framesReceived)
    row.why.push(`${win.late} frames late (> ${LATE_MS} ms round trip)`);
  if (win.framesReceived < 0.99 * row.expectedFrames)
    row.why.push(`only ${win.framesReceived}/${row.expectedFrames} frames came back in the window`);
  row.realtime = row.why.length === 0;
  return row;
}

/**
 * Runs on this VM differ by up to ±7 % in CPU per frame from one minute to the next (the same
 * tree, back to back). A step that is otherwise clean and whose CPU lands this close to the limit
 * is measured twice more and judged by the run with the median CPU, so that one fast or one slow
 * minute decides nothing on its own. A saturated core (≥ SATURATED_PCT) is not close: its reading
 * is capped, not noisy.
 */
const BORDER_PCT = 5;
const SATURATED_PCT = 99;
const BORDER_REPEATS = 2;

function nearLimit(row: Row): boolean {
  const cpuOnly = row.why.length === 0 || (row.why.length === 1 && row.cpuPct >= MAX_CPU_PCT);
  return cpuOnly && Math.abs(row.cpuPct - MAX_CPU_PCT) < BORDER_PCT && row.cpuPct < SATURATED_PCT;
}

async function measure(n: number, base: MemoryBase): Promise<Row> {
  const first = await measureOnce(n, base);
  if (!nearLimit(first)) return first;
  console.log(
    `  N=${n} is within ${BORDER_PCT} points of the ${MAX_CPU_PCT}% limit: measuring it ${BORDER_REPEATS} more times, judged by the median`,
  );
  const runs = [first];
  for (let i = 0; i < BORDER_REPEATS; i++) runs.push(await measureOnce(n, base));
  runs.sort((a, b) => a.cpuPct - b.cpuPct);
  const median = runs[Math.floor(runs.length / 2)]!;
  median.repeats = runs.map((r) => r.cpuPct);
  // Only the CPU reading is voted on: a dropped frame or a failed call in any run still counts.
  for (const r of runs) {
    if (r === median) continue;
    const hard = r.why.filter((w) => !w.startsWith('bridge CPU'));
    if (hard.length) median.why.push(...hard.map((w) => `(another run) ${w}`));
  }
  median.realtime = median.why.length === 0;
  console.log(
    `  N=${n}: CPU ${runs.map((r) => `${f1(r.cpuPct)}%`).join(' / ')} → median ${f1(median.cpuPct)}%: ${median.realtime ? 'holds' : 'lost'}`,
  );
  return median;
}

/** One step, measured again once if other processes took the cores meanwhile; prints its line. */
async function measureOnce(n: number, base: MemoryBase): Promise<Row> {
  let row: Row;
  for (let attempt = 0; ; attempt++) {
    await waitQuiet(bridge.pid);
    row = await runStep(n, base);
    if (row.foreign[0] <= QUIET_PCT && row.foreign[1] <= 2 * QUIET_PCT) break;
    const msg = `N=${n}: other processes used ${f1(row.foreign[0])}% / ${f1(row.foreign[1])}% of cores 0/1 during the window`;
    if (attempt >= NOISY_RETRIES) {
      console.log(`${msg}; keeping this (noisy) measurement`);
      row.noisy = true;
      break;
    }
    console.log(`${msg}; measuring again`);
  }
  console.log(stepLine(row));
  // A polling load side reads ~100 % busy whatever it does: its loop lag says whether it keeps up.
  if (POLLING_LOAD ? row.loadLagMs > LOAD_LAG_LIMIT_MS : row.loadCpuPct > 90) {
    console.log(
      `  note: the load side ${POLLING_LOAD ? `lagged ${f1(row.loadLagMs)} ms (p99)` : `used ${f1(row.loadCpuPct)}% of its core`} — it may be the limit, not the bridge`,
    );
  }
  return row;
}

async function main(): Promise<number> {
  const pinned = pinSelf(1);
  if (POLLING_LOAD) keepPolling();
  console.log(
    `load side: pid ${process.pid}${pinned ? ' pinned to core 1' : ' NOT pinned (taskset failed)'}` +
      `${POLLING_LOAD ? ', polling (--polling-load: scripts/load/poll.ts)' : ''}; engine loopback at ${RATE} Hz`,
  );
  const engine = await startOfflineEngine({ mode: 'loopback', logger: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
  try {
    await bridge.start({
      core: 0,
      engineUrl: engine.url,
      configPath: writeBenchConfig(dir, COALESCE_MS),
      omniRate: RATE,
      lifetimeS: WATCHDOG_MS / 1000,
      profileDir: PROFILE !== undefined ? PROFILE_DIR : undefined,
      extraNodeArgs: (process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean),
    });
    console.log(`bridge: pid ${bridge.pid} pinned to core 0 at ${bridge.url} (log: ${BRIDGE_LOG})`);
    // Warm-up: JIT-compiled code and the heap's working set belong to the idle baseline, not to calls.
    await runStep(WARMUP_CALLS, { rssMb: NaN, heapMb: NaN, externalMb: NaN }, 2);
    const base = await bridge.memory();
    console.log(
      `bridge after warm-up and GC: RSS ${f1(base.rssMb)} MB, JS heap ${f1(base.heapMb)} MB; ` +
        `steps ${STEPS.join(', ')}; ramp ${RAMP_S} s, hold ${HOLD_S} s`,
    );

    const rows: Row[] = [];
    const bad: Row[] = [];
    for (const n of STEPS) {
      const row = await measure(n, base);
      // A loss measured while other processes held the bridge's core says little about the bridge.
      if (!row.realtime && !(row.noisy && row.cpuPct < MAX_CPU_PCT)) {
        bad.push(row);
        break;
      }
      rows.push(row);
    }
    // Between the last step that held and the first that did not, bisect (to 25 calls).
    for (let i = 0; i < REFINE && bad.length; i++) {
      const lo = Math.max(0, ...rows.filter((r) => r.realtime && !r.noisy).map((r) => r.n));
      const hi = Math.min(...bad.map((r) => r.n));
      const mid = Math.round((lo + hi) / 2 / 25) * 25;
      if (mid <= lo || mid >= hi) break;
      const row = await measure(mid, base);
      (row.realtime ? rows : bad).push(row);
    }
    rows.push(...bad);
    rows.sort((x, y) => x.n - y.n);

    console.log(`\n${table(rows)}\n`);
    const clean = rows.filter((r) => !r.noisy);
    const rssSlope = slopeKbPerCall(clean, (r) => r.rssMb);
    const heapSlope = slopeKbPerCall(clean, (r) => (r.heapPerCallKb * r.placed) / 1024); // heap + Buffers over the idle base
    if (Number.isFinite(rssSlope)) {
      console.log(
        `memory per call (slope over the steps, after a full GC with the calls up): RSS ~${rssSlope.toFixed(0)} KB, JS heap + Buffers ~${heapSlope.toFixed(0)} KB`,
      );
    }
    const held = rows.filter((r) => r.realtime && !r.noisy).map((r) => r.n);
    console.log(
      `largest N holding real time: ${held.length ? Math.max(...held) : 'none'} (real time = bridge CPU < ${MAX_CPU_PCT}%, ` +
        `no dropped or missing frame, ≤ ${MAX_LATE_FRACTION * 100}% of frames over ${LATE_MS} ms round trip)`,
    );
    const atTarget = rows.some(
      (r) =>
        r.n >= TARGET.calls &&
        r.realtime &&
        !r.noisy &&
        r.lat.in[1] <= TARGET.p99Ms &&
        r.lat.out[1] <= TARGET.p99Ms &&
        r.bridgeDropped === 0 &&
        r.missing === 0,
    );
    console.log(
      `target ≥ ${TARGET.calls} calls with p99 added latency ≤ ${TARGET.p99Ms} ms and no dropped frame: ${atTarget ? 'MET' : 'NOT MET'}`,
    );
    if (PROFILE !== undefined) {
      await bridge.stop();
      console.log(`\n${summarizeFile(PROFILE_DIR, 15, rows[0]?.windowUs)}`);
    }
    return 0;
  } finally {
    await bridge.stop(1000);
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', () => bridge.kill('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    bridge.kill('SIGKILL');
    process.exit(130);
  });
}
setTimeout(() => {
  console.error(`bench-load: watchdog (${WATCHDOG_MS / 60_000} min) expired`);
  bridge.kill('SIGKILL');
  process.exit(2);
}, WATCHDOG_MS).unref();

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench-load failed: ${(err as Error)?.stack ?? String(err)}`);
    bridge.kill('SIGKILL');
    process.exit(1);
  },
);
