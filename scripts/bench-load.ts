/**
 * Capacity benchmark (`npm run bench:load`): how many concurrent calls one core of bridge holds in
 * real time.
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
 * It stops at the first step that loses real time.
 *
 *   tsx scripts/bench-load.ts [--steps 50,100,200,400,800] [--hold 10] [--ramp 2] [--rate 24000]
 *                             [--late-ms 60] [--profile [dir]]   (profile: one step, default N=200)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/observability/logger.js';
import { startOfflineEngine } from '../src/sim/engine/index.js';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { LoadPool, type WindowStats } from './load/clients.js';
import { summarizeFile } from './load/cpuprofile-top.js';
import {
  coreBusyMs, coreTimes, cpuMs, cpuTimes, delta, schedMs, threadCpuMs, histogramDelta, histogramFractionBelow, histogramMaxBound, histogramQuantile, rssMb, scrape, type Scrape,
} from './load/probes.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(HERE, '..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v && !v.startsWith('--') ? v : '';
}

const PROFILE = arg('profile');
const PROFILE_DIR = PROFILE ? resolve(PROFILE) : '/tmp/prof';
const STEPS = (arg('steps') ?? (PROFILE !== undefined ? '200' : '50,100,200,400,800')).split(',').map(Number).filter((n) => n > 0);
const HOLD_S = Number(arg('hold') ?? 10);
const RAMP_S = Number(arg('ramp') ?? 2);
const RATE = arg('rate') ?? '24000';
const LATE_MS = Number(arg('late-ms') ?? 60);
const MAX_CPU_PCT = 95;
const MAX_LATE_FRACTION = 0.001;
/** frames a call may legitimately owe at hang-up: the resamplers' and framers' partial frame */
const SHORTFALL_ALLOWANCE = 1;
const TARGET = { calls: 300, p99Ms: 5 };
/** the largest finite bucket of bridge_added_latency_seconds, in ms */
const LAST_BUCKET_MS = 100;
const WATCHDOG_MS = 8 * 60_000;
/** a core counts as quiet when other processes use less than this % of it */
const QUIET_PCT = 10;
const QUIET_WAIT_MAX_MS = 20_000;
const NOISY_RETRIES = 1;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let bridge: ChildProcess | undefined;

function pinSelf(core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function killBridge(signal: NodeJS.Signals = 'SIGKILL'): void {
  if (bridge && bridge.exitCode === null && bridge.signalCode === null) bridge.kill(signal);
}

async function startBridge(engineUrl: string, configPath: string): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const nodeArgs = ['--import', 'tsx', ...(process.env.BENCH_BRIDGE_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  if (PROFILE !== undefined) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`);
  }
  const log = openSync(join(tmpdir(), 'bench-load-bridge.log'), 'w');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: url, PYAI_BASE_URL: engineUrl, OMNI_RATE: RATE,
    TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID, TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
    // REST is never needed here; were a fallback to run, it must stay on loopback (a closed port).
    TWILIO_API_BASE: 'http://127.0.0.1:9', TWILIO_SIGNATURE_VALIDATION: 'on',
    BRIDGE_CONFIG: configPath, LOG_LEVEL: 'warn', BENCH_MAX_LIFETIME_S: String(WATCHDOG_MS / 1000),
  };
  delete env.PYAI_API_KEY;
  delete env.CALL_RECORDS_FILE;
  const script = join(HERE, 'load', 'bridge-proc.ts');
  bridge = spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs, script], {
    cwd: ROOT, env, stdio: ['ignore', log, log, 'ipc'],
  });
  return new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('bridge did not start within 30 s')), 30_000);
    bridge!.once('exit', (code) => reject(new Error(`bridge exited during start (code ${code}); see ${join(tmpdir(), 'bench-load-bridge.log')}`)));
    bridge!.on('message', (m: { type?: string; pid?: number }) => {
      if (m?.type !== 'ready') return;
      clearTimeout(timer);
      resolveReady({ url, pid: m.pid ?? bridge!.pid! });
    });
  });
}

/** Other processes' CPU (% of each core) over `ms`, our own two processes excluded. */
async function foreignLoad(bridgePid: number, ms: number): Promise<[number, number]> {
  const c0 = coreBusyMs(); const b0 = cpuMs(bridgePid); const s0 = cpuMs('self');
  await sleep(ms);
  const c1 = coreBusyMs(); const b1 = cpuMs(bridgePid); const s1 = cpuMs('self');
  return [(100 * (c1[0]! - c0[0]! - (b1 - b0))) / ms, (100 * (c1[1]! - c0[1]! - (s1 - s0))) / ms];
}

/**
 * The machine is shared (2 cores): a test suite running next to the benchmark steals the
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
    if (!warned) console.log(`  waiting for other processes to leave the cores (${a.toFixed(0)}% / ${b.toFixed(0)}% of cores 0/1 busy)…`);
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

interface Row {
  n: number;
  placed: number;
  cpuPct: number;
  cpuMsPerCallSec: number;
  /** bridge CPU per caller frame it took in (one frame each way, plus marks): independent of starvation */
  cpuUsPerFrame: number;
  rssMb: number;
  rssPerCallKb: number;
  /** V8 heap in use at the end of the window (the bridge's own default metrics) */
  heapMb: number;
  lat: { in: [number, number, number]; out: [number, number, number]; inWithin5: number; outWithin5: number };
  win: WindowStats;
  expectedFrames: number;
  bridgeDropped: number;
  rejected: number;
  shortfall: number;
  maxShortfall: number;
  missing: number;
  droppedCalls: number;
  loadCpuPct: number;
  loadLagP99Ms: number;
  bridgeLagP99Ms: number;
  /** CPU other processes used on the bridge's core / the load side's core during the window, % */
  foreign: [number, number];
  /** CPU of the bridge's threads other than the event loop (V8 GC helpers, libuv pool), % of the core */
  helpersPct: number;
  /** time the bridge's / the load side's main thread was runnable but waiting for its core, % of the window */
  runqWaitPct: [number, number];
  /** interrupt + softirq time of each core during the window, % (loopback TCP the processes were not charged for) */
  irqPct: [number, number];
  /** share of the bridge's CPU spent in the kernel (loopback TCP included), % */
  sysShare: number;
  /** the measuring window in the CPU profile's clock (process.hrtime, µs) */
  windowUs: { fromUs: number; toUs: number };
  realtime: boolean;
  why: string[];
  /** other processes used the cores during the window even after a retry */
  noisy?: boolean;
}

async function runStep(n: number, b: { url: string; pid: number }, idleRss: number): Promise<Row> {
  const pool = new LoadPool({
    bridgeUrl: b.url, publicUrl: b.url, accountSid: SIM_ACCOUNT_SID, authToken: SIM_AUTH_TOKEN, to: '+15550001000', lateMs: LATE_MS,
  });
  pool.startTicker();
  const failures: string[] = [];
  const placing: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    placing.push(pool.place().catch((err: Error) => void failures.push(err.message)));
    await sleep((RAMP_S * 1000) / n);
  }
  await Promise.all(placing);
  if (failures.length) console.error(`  ${failures.length} call(s) failed to start, e.g. ${failures[0]}`);
  await sleep(1000); // settle: every call in steady state before measuring

  const lag = monitorEventLoopDelay({ resolution: 10 });
  const scrapeErrors: string[] = [];
  // An overloaded bridge may not answer /metrics in time: that is a finding, not a crash.
  const safeScrape = (): Promise<Scrape> => scrape(b.url).catch((err: Error) => {
    scrapeErrors.push(err.message);
    return new Map();
  });
  const before: Scrape = await safeScrape();
  const times0 = cpuTimes(b.pid);
  const cpu0 = times0.userMs + times0.sysMs;
  const load0 = cpuMs('self');
  const cores0 = coreBusyMs();
  const irq0 = coreTimes().map((t) => t.irqMs);
  const sched0 = [schedMs(b.pid), schedMs('self')];
  const threads0 = threadCpuMs(b.pid);
  const t0 = performance.now();
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  lag.enable();
  pool.beginWindow();
  await sleep(HOLD_S * 1000);
  const win = pool.endWindow();
  const toUs = Number(process.hrtime.bigint() / 1000n);
  const times1 = cpuTimes(b.pid);
  const cpu1 = times1.userMs + times1.sysMs;
  const load1 = cpuMs('self');
  const cores1 = coreBusyMs();
  const irq1 = coreTimes().map((t) => t.irqMs);
  const sched1 = [schedMs(b.pid), schedMs('self')];
  const threads1 = threadCpuMs(b.pid);
  const wallMs = performance.now() - t0;
  lag.disable();
  const rss = rssMb(b.pid);
  const after: Scrape = await safeScrape();

  pool.stopSending();
  await sleep(500); // the last frames come back; the bridge's 60 ms tail flush has run
  const totals = pool.totals();
  await pool.hangUpAll();
  pool.close();
  for (let i = 0; i < 100 && (await activeCalls(b.url)) > 0; i++) await sleep(100);

  const hist = (direction: string) => histogramDelta(before, after, 'bridge_added_latency_seconds', { direction });
  const stats = (direction: string): [number, number, number] => {
    const h = hist(direction);
    return [histogramQuantile(h, 0.5) * 1000, histogramQuantile(h, 0.99) * 1000, histogramMaxBound(h) * 1000];
  };
  const placed = totals.calls;
  const callSeconds = placed * (wallMs / 1000);
  const bridgeDropped = delta(before, after, 'bridge_frames_dropped_total');
  const missing = Math.max(0, totals.shortfall - SHORTFALL_ALLOWANCE * placed);
  const row: Row = {
    n, placed,
    cpuPct: (100 * (cpu1 - cpu0)) / wallMs,
    cpuMsPerCallSec: (cpu1 - cpu0) / callSeconds,
    cpuUsPerFrame: (1000 * (cpu1 - cpu0)) / Math.max(1, delta(before, after, 'bridge_frames_total', { direction: 'from_twilio' })),
    rssMb: rss,
    rssPerCallKb: ((rss - idleRss) * 1024) / Math.max(1, placed),
    heapMb: (after.get('nodejs_heap_size_used_bytes') ?? NaN) / 1048576,
    lat: {
      in: stats('inbound'), out: stats('outbound'),
      inWithin5: histogramFractionBelow(hist('inbound'), 0.005), outWithin5: histogramFractionBelow(hist('outbound'), 0.005),
    },
    win,
    expectedFrames: Math.round((placed * wallMs) / 20),
    bridgeDropped,
    rejected: delta(before, after, 'bridge_rejected_messages_total'),
    shortfall: totals.shortfall,
    maxShortfall: totals.maxShortfall,
    missing,
    droppedCalls: totals.droppedCalls + failures.length,
    loadCpuPct: (100 * (load1 - load0)) / wallMs,
    loadLagP99Ms: lag.percentile(99) / 1e6,
    bridgeLagP99Ms: (after.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
    foreign: [
      Math.max(0, (100 * (cores1[0]! - cores0[0]! - (cpu1 - cpu0))) / wallMs),
      Math.max(0, (100 * (cores1[1]! - cores0[1]! - (load1 - load0))) / wallMs),
    ],
    helpersPct: (100 * (threads1.helpersMs - threads0.helpersMs)) / wallMs,
    runqWaitPct: [(100 * (sched1[0]!.waitMs - sched0[0]!.waitMs)) / wallMs, (100 * (sched1[1]!.waitMs - sched0[1]!.waitMs)) / wallMs],
    irqPct: [(100 * (irq1[0]! - irq0[0]!)) / wallMs, (100 * (irq1[1]! - irq0[1]!)) / wallMs],
    sysShare: (100 * (times1.sysMs - times0.sysMs)) / Math.max(1, cpu1 - cpu0),
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
  if (win.late > MAX_LATE_FRACTION * win.framesReceived) row.why.push(`${win.late} frames late (> ${LATE_MS} ms round trip)`);
  if (win.framesReceived < 0.99 * row.expectedFrames) row.why.push(`only ${win.framesReceived}/${row.expectedFrames} frames came back in the window`);
  row.realtime = row.why.length === 0;
  return row;
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '-');
/** a histogram's maximum is only known to its bucket: "≤ bound", or "> last bound" past it */
const maxBound = (v: number) => (v === Infinity ? `>${LAST_BUCKET_MS}` : Number.isFinite(v) ? `≤${v}` : '-');

function table(rows: Row[]): string {
  const head = [
    'N', 'CPU %core', 'CPU ms/call·s', 'RSS MB', 'RSS KB/call',
    'in p50/p99/max ms', 'out p50/p99/max ms', 'e2e p50/p99/max ms', 'frames sent/back', 'late', 'dropped', 'shortfall (max/call)', 'real time',
  ];
  const body = rows.map((r) => [
    String(r.n), f1(r.cpuPct), f2(r.cpuMsPerCallSec), f1(r.rssMb), f1(r.rssPerCallKb),
    `${f3(r.lat.in[0])}/${f3(r.lat.in[1])}/${maxBound(r.lat.in[2])}`,
    `${f3(r.lat.out[0])}/${f3(r.lat.out[1])}/${maxBound(r.lat.out[2])}`,
    `${f1(r.win.e2eP50Ms)}/${f1(r.win.e2eP99Ms)}/${f1(r.win.e2eMaxMs)}`,
    `${r.win.framesSent}/${r.win.framesReceived}`, String(r.win.late), String(r.bridgeDropped),
    `${r.shortfall} (${r.maxShortfall})`, `${r.realtime ? 'yes' : 'NO'}${r.noisy ? ' (noisy)' : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<number> {
  const pinned = pinSelf(1);
  console.log(`load side: pid ${process.pid}${pinned ? ' pinned to core 1' : ' NOT pinned (taskset failed)'}; engine loopback at ${RATE} Hz`);
  const engine = await startOfflineEngine({ mode: 'loopback', logger: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'bench-load-'));
  const configPath = join(dir, 'bench.yaml');
  writeFileSync(configPath, [
    'default_agent: bench',
    'agents:',
    '  - id: bench',
    '    persona: Load test agent. The engine echoes the caller.',
    'numbers:',
    '  "+15550001000": { agent: bench }',
    'bridge:',
    '  max_concurrent_calls: 5000',
    // Pre-connecting feeds the engine silence until the stream starts; a loopback engine would
    // echo it as agent audio queued ahead of the caller's (a real agent does not answer silence).
    '  preconnect: { enabled: false }',
    '',
  ].join('\n'));
  try {
    const b = await startBridge(engine.url, configPath);
    console.log(`bridge: pid ${b.pid} pinned to core 0 at ${b.url} (log: ${join(tmpdir(), 'bench-load-bridge.log')})`);
    await sleep(1500);
    const idleRss = rssMb(b.pid);
    console.log(`bridge idle RSS ${idleRss.toFixed(1)} MB; steps ${STEPS.join(', ')}; ramp ${RAMP_S} s, hold ${HOLD_S} s`);
    const rows: Row[] = [];
    for (const n of STEPS) {
      let row: Row;
      for (let attempt = 0; ; attempt++) {
        await waitQuiet(b.pid);
        row = await runStep(n, b, idleRss);
        const noisy = row.foreign[0] > QUIET_PCT || row.foreign[1] > 2 * QUIET_PCT;
        if (!noisy) break;
        const msg = `N=${n}: the bridge waited ${f1(row.runqWaitPct[0])}% of the window for its core, the load side ${f1(row.runqWaitPct[1])}% `
          + `(other processes used ${f1(row.foreign[0])}% / ${f1(row.foreign[1])}% of cores 0/1)`;
        if (attempt >= NOISY_RETRIES) {
          console.log(`${msg}; keeping this (noisy) measurement`);
          row.noisy = true;
          break;
        }
        console.log(`${msg}; measuring again`);
      }
      rows.push(row);
      console.log(
        `N=${n}: bridge CPU ${f1(row.cpuPct)}% (${f1(row.cpuUsPerFrame)} µs per frame in+out), RSS ${f1(row.rssMb)} MB (JS heap ${f1(row.heapMb)} MB), added p99 in ${f3(row.lat.in[1])} ms / out ${f3(row.lat.out[1])} ms, `
        + `e2e p99 ${f1(row.win.e2eP99Ms)} ms, load side CPU ${f1(row.loadCpuPct)}% (lag p99 ${f1(row.loadLagP99Ms)} ms), `
        + `bridge loop lag p99 ${f1(row.bridgeLagP99Ms)} ms, kernel share of bridge CPU ${f1(row.sysShare)}%, softirq core 0/1 ${f1(row.irqPct[0])}/${f1(row.irqPct[1])}%, bridge helper threads ${f1(row.helpersPct)}%, run-queue wait bridge/load ${f2(row.runqWaitPct[0])}/${f2(row.runqWaitPct[1])}%${row.realtime ? '' : ` — real time lost: ${row.why.join('; ')}`}`,
      );
      if (row.loadCpuPct > 90) console.log(`  note: the load side used ${f1(row.loadCpuPct)}% of its core — it may be the limit, not the bridge`);
      // A loss measured while other processes held the bridge's core says little about the bridge.
      if (!row.realtime && !(row.noisy && row.cpuPct < MAX_CPU_PCT)) break;
    }
    console.log(`\n${table(rows)}\n`);
    const held = rows.filter((r) => r.realtime && !r.noisy).map((r) => r.n);
    const best = held.length ? Math.max(...held) : 0;
    const meets = rows.filter((r) => r.realtime && r.lat.in[1] <= TARGET.p99Ms && r.lat.out[1] <= TARGET.p99Ms && r.bridgeDropped === 0 && r.missing === 0);
    console.log(`largest N holding real time: ${best || 'none'} (of steps run; real time = CPU < ${MAX_CPU_PCT}%, no dropped/missing frame, late ≤ ${MAX_LATE_FRACTION * 100}% at > ${LATE_MS} ms round trip)`);
    const atTarget = meets.some((r) => r.n >= TARGET.calls);
    console.log(`target ≥ ${TARGET.calls} calls with p99 added latency ≤ ${TARGET.p99Ms} ms and no dropped frame: ${atTarget ? 'MET' : 'not shown by these steps'}`);
    if (PROFILE !== undefined) {
      killBridge('SIGTERM');
      await new Promise<void>((r) => { if (bridge!.exitCode !== null) r(); else bridge!.once('exit', () => r()); setTimeout(r, 8000).unref(); });
      console.log(`\n${summarizeFile(PROFILE_DIR, 15, rows.at(-1)?.windowUs)}`);
    }
    return 0;
  } finally {
    killBridge('SIGTERM');
    await sleep(300);
    killBridge('SIGKILL');
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', () => killBridge('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killBridge('SIGKILL');
    process.exit(130);
  });
}
setTimeout(() => {
  console.error(`bench-load: watchdog (${WATCHDOG_MS / 60_000} min) expired`);
  killBridge('SIGKILL');
  process.exit(2);
}, WATCHDOG_MS).unref();

main().then((code) => process.exit(code), (err: unknown) => {
  console.error(`bench-load failed: ${(err as Error)?.stack ?? String(err)}`);
  killBridge('SIGKILL');
  process.exit(1);
});
