/**
 * Paired comparison of two bridges (`npm run bench:ab`): is B cheaper per frame than A?
 *
 * bench:load's CPU readings of one tree move by ±8–15 % from minute to minute on a shared VM,
 * which hides any change worth less than that. Here both bridges run AT THE SAME TIME, both pinned
 * to core 0, each carrying N calls from one load side on core 1 (the offline engine in loopback
 * mode, as in bench:load). Whatever the VM does in a window it does to both, so within one pair
 * of processes the ratio of their CPU per frame is steady to ±0.5 % from window to window.
 * Between fresh pairs of processes it moves by ±4 % (an A/A run shows it: JIT and timing luck of
 * each process), so the unit of comparison is a phase — a fresh pair, A or B started first in
 * turn — and the result is the mean over phases with its 95 % interval. Method and readings:
 * docs/capacity.md, "Sixth round".
 *
 *   tsx scripts/bench-ab.ts [--phases 8] [--windows 2] [--window 4] [--calls 100]
 *                           [--a-coalesce-ms N] [--b-coalesce-ms N]    (bridge.write_coalesce_ms per side)
 *                           [--a-env "K=V …"] [--b-env "K=V …"]        (environment per side)
 *                           [--a-node-args=… ] [--b-node-args=…]       (node flags per side)
 *                           [--a-root DIR] [--b-root DIR]              (another checkout, e.g. a git
 *                                                                       worktree with node_modules linked)
 * Keep 2 × calls well under what one core holds (the default 2 × 100 is ~65 % of it): a saturated
 * core would make both sides wait for each other and measure the scheduler, not the bridges.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/observability/logger.js';
import { startOfflineEngine } from '../src/sim/engine/index.js';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { BENCH_NUMBER, BridgeChild, pinSelf, writeBenchConfig } from './load/bridge-child.js';
import { LoadPool } from './load/clients.js';
import { cpuPreciseMs, delta, scrape } from './load/probes.js';

/** `--name value`, or `--name=value` for values that start with `--` (node flags) */
function arg(name: string): string | undefined {
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 3);
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  return v !== undefined && !v.startsWith('--') ? v : '';
}
const num = (name: string, dflt: number): number => {
  const v = Number(arg(name) ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number ≥ 0`);
  return v;
};

const CALLS = num('calls', 100);
const PHASES = Math.max(2, num('phases', 8));
const WINDOWS = Math.max(1, num('windows', 2));
const WINDOW_S = num('window', 4);
const RAMP_S = 2;
const WATCHDOG_MS = 30 * 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Settings {
  coalesceMs?: number;
  root?: string;
  nodeArgs: string[];
  env: Record<string, string>;
}

function settingsOf(name: 'A' | 'B'): Settings {
  const key = name.toLowerCase();
  const c = arg(`${key}-coalesce-ms`);
  return {
    coalesceMs: c !== undefined ? Number(c) : undefined,
    root: arg(`${key}-root`) || undefined,
    nodeArgs: (arg(`${key}-node-args`) ?? '').split(' ').filter(Boolean),
    env: Object.fromEntries(
      (arg(`${key}-env`) ?? '')
        .split(' ')
        .filter(Boolean)
        .map((kv) => {
          const eq = kv.indexOf('=');
          if (eq < 1) throw new Error(`--${key}-env takes KEY=VALUE pairs, got "${kv}"`);
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        }),
    ),
  };
}
const settings = { A: settingsOf('A'), B: settingsOf('B') };
/** every bridge started, so that no exit path leaves one behind */
const live: BridgeChild[] = [];

function describe(name: 'A' | 'B'): string {
  const s = settings[name];
  return (
    `${name}: ${s.root ?? 'this tree'}, write_coalesce_ms ${s.coalesceMs ?? 'default'}${s.nodeArgs.length ? `, node ${s.nodeArgs.join(' ')}` : ''}` +
    `${
      Object.keys(s.env).length
        ? `, env ${Object.entries(s.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`
        : ''
    }`
  );
}

/** Student's t, two-sided 95 %, for n − 1 degrees of freedom (n ≤ 31; beyond, 2.0). */
function t95(n: number): number {
  const table = [12.71, 4.3, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.2, 2.18, 2.16, 2.14, 2.13];
  return table[n - 2] ?? (n <= 31 ? 2.1 : 2.0);
}

/** One bridge of a phase, and the callers that load it. */
interface Side {
  name: 'A' | 'B';
  bridge: BridgeChild;
  pool?: LoadPool;
}

/**
 * One phase: a fresh pair of bridges started in `order` (which one starts and ramps first), N calls
 * each, K windows. Returns B/A per window. main() alternates the order from phase to phase.
 */
async function runPhase(
  engineUrl: string,
  dir: string,
  order: ['A', 'B'] | ['B', 'A'],
): Promise<{ ratios: number[]; dropped: number; late: Record<string, number> }> {
  const sides: Side[] = order.map((name) => ({ name, bridge: new BridgeChild() }));
  live.push(...sides.map((s) => s.bridge));
  const ratios: number[] = [];
  const late: Record<string, number> = { A: 0, B: 0 }; // per side: a change may cost latency, not CPU
  let dropped = 0;
  try {
    mkdirSync(dir, { recursive: true });
    for (const s of sides) {
      const set = settings[s.name];
      await s.bridge.start({
        core: 0,
        engineUrl,
        omniRate: '24000',
        lifetimeS: WATCHDOG_MS / 1000,
        configPath: writeBenchConfig(mkdtempSync(join(dir, s.name)), set.coalesceMs),
        extraNodeArgs: set.nodeArgs,
        env: set.env,
        root: set.root,
        logPath: join(tmpdir(), `bench-ab-${s.name}.log`),
      });
      s.pool = new LoadPool({
        bridgeUrl: s.bridge.url,
        publicUrl: s.bridge.url,
        accountSid: SIM_ACCOUNT_SID,
        authToken: SIM_AUTH_TOKEN,
        to: BENCH_NUMBER,
        lateMs: 60,
      });
      s.pool.startTicker();
    }
    // Both ramp together, alternating, so neither warms up (JIT, heap) in a different phase of the VM.
    const placing: Promise<void>[] = [];
    for (let i = 0; i < CALLS; i++) {
      for (const s of sides) placing.push(s.pool!.place());
      await sleep((RAMP_S * 1000) / CALLS);
    }
    await Promise.all(placing);
    await sleep(2000); // steady state, and the optimizing compiler done with the hot path

    for (let w = 0; w < WINDOWS; w++) {
      const before = await Promise.all(sides.map((s) => scrape(s.bridge.url)));
      const cpu0 = sides.map((s) => cpuPreciseMs(s.bridge.pid));
      for (const s of sides) s.pool!.beginWindow();
      await sleep(WINDOW_S * 1000);
      const wins = sides.map((s) => s.pool!.endWindow());
      const cpu1 = sides.map((s) => cpuPreciseMs(s.bridge.pid));
      const after = await Promise.all(sides.map((s) => scrape(s.bridge.url)));
      const us: Record<string, number> = {};
      sides.forEach((s, i) => {
        const frames = delta(before[i]!, after[i]!, 'bridge_frames_total', { direction: 'from_twilio' });
        dropped += delta(before[i]!, after[i]!, 'bridge_frames_dropped_total');
        late[s.name] = (late[s.name] ?? 0) + wins[i]!.late;
        us[s.name] = (1000 * (cpu1[i]! - cpu0[i]!)) / Math.max(1, frames);
      });
      ratios.push(us.B! / us.A!);
      console.log(
        `  window ${w + 1}: A ${us.A!.toFixed(1)} µs per frame pair, B ${us.B!.toFixed(1)} → B/A ${ratios.at(-1)!.toFixed(3)}`,
      );
    }
    for (const s of sides) {
      s.pool!.stopSending();
      await s.pool!.hangUpAll();
      s.pool!.close();
    }
  } finally {
    await Promise.all(sides.map((s) => s.bridge.stop(1000)));
  }
  return { ratios, dropped, late };
}

function meanAndHalf(xs: number[]): [number, number] {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, r) => a + (r - m) ** 2, 0) / (xs.length - 1));
  return [m, (t95(xs.length) * sd) / Math.sqrt(xs.length)];
}

async function main(): Promise<void> {
  const pinned = pinSelf(1);
  console.log(`${describe('A')}\n${describe('B')}`);
  console.log(
    `load side: pid ${process.pid}${pinned ? ' on core 1' : ' NOT pinned'}; both bridges on core 0; ` +
      `${CALLS} calls per bridge; ${PHASES} phases (fresh processes, alternately A and B started first) of ${WINDOWS} windows of ${WINDOW_S} s`,
  );
  const engine = await startOfflineEngine({ mode: 'loopback', logger: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'bench-ab-'));
  try {
    const logRatios: number[] = [];
    let dropped = 0;
    const late = { A: 0, B: 0 };
    for (let p = 0; p < PHASES; p++) {
      const order: ['A', 'B'] | ['B', 'A'] = p % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
      const r = await runPhase(engine.url, join(dir, String(p)), order);
      // A phase is one sample: windows within it agree to ±0.5 %, phases (fresh processes) to ±4 %.
      const m = r.ratios.reduce((a, b) => a + b, 0) / r.ratios.length;
      logRatios.push(Math.log(m));
      dropped += r.dropped;
      late.A += r.late.A ?? 0;
      late.B += r.late.B ?? 0;
      console.log(
        `phase ${p + 1} (${order[0]} first): B/A ${m.toFixed(3)}  [${r.ratios.map((x) => x.toFixed(3)).join(' ')}]`,
      );
    }
    const [lm, lh] = meanAndHalf(logRatios);
    const m = Math.exp(lm);
    const lo = Math.exp(lm - lh);
    const hi = Math.exp(lm + lh);
    console.log(
      `\nB/A = ${m.toFixed(3)} (95 % interval ${lo.toFixed(3)}–${hi.toFixed(3)} over ${PHASES} phases): B is ` +
        `${lo <= 1 && hi >= 1 ? 'not distinguishable from A' : m < 1 ? `${((1 - m) * 100).toFixed(1)} % cheaper per frame` : `${((m - 1) * 100).toFixed(1)} % dearer per frame`}`,
    );
    console.log(`frames dropped by the bridges: ${dropped}; late round trips (> 60 ms): A ${late.A}, B ${late.B}`);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('exit', () => live.forEach((b) => b.kill('SIGKILL')));
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    live.forEach((b) => b.kill('SIGKILL'));
    process.exit(130);
  });
}
setTimeout(() => {
  console.error(`bench-ab: watchdog (${WATCHDOG_MS / 60_000} min) expired`);
  process.exit(2);
}, WATCHDOG_MS).unref();

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench-ab failed: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  },
);
