/**
 * Listen-in cost and delay (`npm run bench:listen`): what one supervisor listening to each call
 * costs the bridge, and how far behind the call the audio reaches the listener's socket.
 *
 * The bridge runs alone in a child process pinned to core 0 (scripts/load/bridge-child.ts, the
 * production start path); this process holds N Twilio-like callers (scripts/load/clients.ts)
 * against the offline engine in loopback mode, and the listeners. Windows without and with one
 * listener per call alternate (ROUNDS times, HOLD s each); the bridge's CPU (/proc utime+stime)
 * per call is compared. The delay is the audio backlog at each caller-channel message: the
 * caller's audio sent so far minus what the listener has received (both counted in this
 * process, on loopback), in ms of audio. The page then schedules playback LEAD_S (120 ms) ahead.
 *
 *   tsx scripts/bench-listen.ts [--calls 16] [--hold 10] [--rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { silentLogger } from '../src/observability/logger.js';
import { startOfflineEngine } from '../src/sim/engine/index.js';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { BENCH_NUMBER, BridgeChild, pinSelf, writeBenchConfig } from './load/bridge-child.js';
import { LoadPool } from './load/clients.js';
import { cpuTimes } from './load/probes.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const CALLS = arg('calls', 16); // MAX_LISTENERS_PER_REPLICA: one listener per call
const HOLD_S = arg('hold', 10);
const ROUNDS = arg('rounds', 2);
const ADMIN = `bench-listen-${Math.random().toString(36).slice(2)}-admin-token-0123456789`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};

interface SentCounter {
  callSid: string;
  sent: number;
}

async function main(): Promise<void> {
  pinSelf(1);
  const engine = await startOfflineEngine({ mode: 'loopback', logger: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'bench-listen-'));
  const bridge = new BridgeChild();
  try {
    await bridge.start({
      core: 0,
      engineUrl: engine.url,
      configPath: writeBenchConfig(dir),
      omniRate: '24000',
      lifetimeS: 600,
      env: { ADMIN_TOKEN: ADMIN },
    });
    const pool = new LoadPool({
      bridgeUrl: bridge.url,
      publicUrl: bridge.url,
      accountSid: SIM_ACCOUNT_SID,
      authToken: SIM_AUTH_TOKEN,
      to: BENCH_NUMBER,
      lateMs: 60,
    });
    pool.startTicker();
    for (let i = 0; i < CALLS; i++) await pool.place();
    const calls = (pool as unknown as { calls: SentCounter[] }).calls;
    await sleep(2000);

    const login = await fetch(`${bridge.url}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: bridge.url },
      body: JSON.stringify({ token: ADMIN }),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const { csrf } = (await (await fetch(`${bridge.url}/console/api/session`, { headers: { cookie } })).json()) as {
      csrf: string;
    };

    const lags: number[] = [];
    let listening = true;
    const openListeners = () =>
      Promise.all(
        calls.map(
          (c) =>
            new Promise<WebSocket>((resolve, reject) => {
              const ws = new WebSocket(
                `${bridge.url.replace(/^http/, 'ws')}/console/api/calls/${c.callSid}/listen`,
                ['opb-listen.v1', `csrf.${csrf}`],
                { headers: { cookie, origin: bridge.url }, perMessageDeflate: false },
              );
              // counted from the listen's start: the caller's audio before it is not owed
              let bytes = c.sent * 160;
              ws.on('message', (data: Buffer) => {
                const got = data.readUInt16BE(4); // the caller's bytes in this message
                bytes += got;
                // backlog = caller audio sent so far − received; its floor is the wire's own, ~0 on loopback
                if (listening) lags.push((c.sent * 160 - bytes) / 8);
              });
              ws.on('open', () => resolve(ws));
              ws.on('unexpected-response', (_q, res) => reject(new Error(`listen refused: HTTP ${res.statusCode}`)));
            }),
        ),
      );

    const cpu = () => {
      const t = cpuTimes(bridge.pid);
      return t.userMs + t.sysMs;
    };
    const window = async () => {
      const c0 = cpu();
      const t0 = performance.now();
      await sleep(HOLD_S * 1000);
      return (cpu() - c0) / (performance.now() - t0); // cores busy
    };
    const e2e: number[] = [];
    const without: number[] = [];
    const withL: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      without.push(await window());
      const sockets = await openListeners();
      listening = true;
      await sleep(1000);
      pool.beginWindow();
      withL.push(await window());
      e2e.push(pool.endWindow().e2eP50Ms);
      listening = false;
      for (const s of sockets) s.close();
      await sleep(1000);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const base = mean(without);
    const listened = mean(withL);
    console.log(
      `bench:listen — ${CALLS} calls, loopback engine, ${ROUNDS} rounds of ${HOLD_S} s without / with one listener per call`,
    );
    console.log(
      `  bridge CPU without listeners: ${(base * 100).toFixed(1)} % of a core (${((base * 100) / CALLS).toFixed(2)} % per call)`,
    );
    console.log(`  bridge CPU with a listener on every call: ${(listened * 100).toFixed(1)} % of a core`);
    console.log(
      `  extra CPU for listening: ${(((listened - base) / base) * 100).toFixed(1)} % of the calls' own (per round: ${withL.map((w, i) => (((w - without[i]!) / without[i]!) * 100).toFixed(1)).join(', ')} %)`,
    );
    // The floor is what was in flight when listening began (frames sent, not yet at the bridge): subtracted.
    const floor = Math.min(...lags);
    const rel = lags.map((x) => x - floor);
    console.log(
      `  listener backlog on arrival (caller audio sent − received, above its floor of ${floor.toFixed(0)} ms): p50 ${pct(rel, 0.5).toFixed(0)} ms, p95 ${pct(rel, 0.95).toFixed(0)} ms, max ${Math.max(...rel).toFixed(0)} ms (${lags.length} messages); the page plays 120 ms ahead of its clock`,
    );
    console.log(
      `  for scale, the calls' own round trip meanwhile (caller frame → bridge → engine → bridge → caller), p50: ${e2e.map((x) => x.toFixed(0)).join(', ')} ms`,
    );
    pool.stopSending();
    await pool.hangUpAll();
    pool.close();
  } finally {
    await bridge.stop();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
