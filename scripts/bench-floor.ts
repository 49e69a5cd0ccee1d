/**
 * `npm run bench:floor`: the transport floor next to the bridge's numbers (docs/capacity.md).
 *
 * Same topology and pinning as bench:load — the process under test alone on core 0, callers and
 * engine on core 1, everything on 127.0.0.1 — but the process under test is a bare `ws` relay
 * (scripts/load/relay-floor-proc.ts): JSON parse, base64 both ways, one engine frame and one
 * Twilio message per 20 ms, marks every 500 ms, and nothing else. Its CPU per frame pair is what
 * moving the messages costs on this machine; bench:load's figure minus it is the bridge's work.
 *
 *   tsx scripts/bench-floor.ts [--steps 100,200,300] [--hold 8] [--polling-load]
 * --polling-load: the load side polls rather than sleeps (scripts/load/poll.ts says why).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { pinSelf } from './load/bridge-child.js';
import { keepPolling, pollingLoadRequested } from './load/poll.js';
import { cpuMs } from './load/probes.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const STEPS = arg('steps', '100,200,300')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const HOLD_S = Number(arg('hold', '8'));
const FRAME_MS = 20;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const PAYLOAD = Buffer.alloc(160, 0xff).toString('base64');

async function startRelay(enginePort: number): Promise<{ child: ChildProcess; port: number }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(HERE, 'load/relay-floor-proc.ts'), String(port), String(enginePort)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  await new Promise<void>((res, rej) => {
    child.once('message', () => res());
    child.once('exit', (code) => rej(new Error(`relay exited (${code})`)));
  });
  execFileSync('taskset', ['-a', '-cp', '0', String(child.pid)], { stdio: 'ignore' });
  return { child, port };
}

async function step(n: number, relayPort: number, relayPid: number): Promise<string> {
  const calls: { ws: WebSocket; sid: string; next: number; sent: number }[] = [];
  let received = 0;
  for (let i = 0; i < n; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${relayPort}`);
    const streamSid = `MZ${String(i).padStart(32, '0')}`;
    ws.on('message', (data: Buffer) => {
      if (data[11] === 0x61 /* mark */) {
        ws.send(`{"event":"mark","sequenceNumber":"1","streamSid":"${streamSid}","mark":{"name":"x"}}`);
      } else received++;
    });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    calls.push({ ws, sid: streamSid, next: performance.now() + Math.random() * FRAME_MS, sent: 0 });
  }
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const c of calls) {
      while (c.next <= now) {
        c.sent++;
        c.ws.send(
          `{"event":"media","sequenceNumber":"${c.sent + 1}","streamSid":"${c.sid}","media":{"track":"inbound","chunk":"${c.sent}","timestamp":"${c.sent * FRAME_MS}","payload":"${PAYLOAD}"}}`,
        );
        c.next += FRAME_MS;
      }
    }
  }, 1);
  await sleep(3000);
  const c0 = cpuMs(relayPid);
  const r0 = received;
  const t0 = performance.now();
  await sleep(HOLD_S * 1000);
  const c1 = cpuMs(relayPid);
  const r1 = received;
  const t1 = performance.now();
  clearInterval(ticker);
  for (const c of calls) c.ws.close();
  await sleep(500);
  const pairs = r1 - r0;
  const expected = Math.round((n * (t1 - t0)) / FRAME_MS);
  const pct = (100 * (c1 - c0)) / (t1 - t0);
  return `| ${n} | ${pct.toFixed(1)} | ${(((c1 - c0) * 1000) / pairs).toFixed(1)} | ${pairs}/${expected} |`;
}

async function main(): Promise<void> {
  pinSelf(1);
  const polling = pollingLoadRequested();
  if (polling) keepPolling();
  const engine = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => engine.once('listening', () => r()));
  // The engine echoes each frame at once (bench:load's loopback engine does the same).
  engine.on('connection', (s) => s.on('message', (d: Buffer, binary) => s.send(d, { binary })));
  const { child, port } = await startRelay((engine.address() as { port: number }).port);
  const watchdog = setTimeout(() => {
    child.kill();
    process.exit(1);
  }, 10 * 60_000);
  console.log(
    `bare ws relay (pid ${child.pid}) pinned to core 0; callers and echo engine on core 1${polling ? ' (polling)' : ''}; hold ${HOLD_S} s`,
  );
  console.log('\n| N | relay CPU %core | µs per frame pair | agent frames back/expected |\n|---|---|---|---|');
  for (const n of STEPS) console.log(await step(n, port, child.pid!));
  clearTimeout(watchdog);
  child.kill('SIGTERM');
  engine.close();
  process.exit(0);
}

void main();
