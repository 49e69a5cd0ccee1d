/**
 * SIP against Twilio in one run (`npm run bench:sip`): N concurrent calls through the same bridge
 * process (pinned to core 0, the production start path), first as Twilio Media Streams (the load
 * clients of bench:load), then as SIP calls placed by Debian's SIPp, the offline engine echoing the
 * caller either way. Printed side by side: CPU per call (% of a core), RSS per call, the round
 * trip caller → bridge → engine → bridge → caller, and for SIP the bridge's RTP send spacing.
 *
 * SIPp does the signalling (INVITE, ACK, the hold, BYE); each SIP call's media is a UDP socket of
 * this process, named in SIPp's SDP through an injection file, which answers where the bridge's
 * RTP comes from (symmetric RTP) with 20 ms μ-law frames: silence, and once a second a loud probe
 * frame whose echo times the round trip.
 *
 *   tsx scripts/bench-sip.ts [--calls 50,200] [--hold 10]
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/observability/logger.js';
import { startOfflineEngine } from '../src/sim/engine/index.js';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { buildRtp, parseRtp } from '../src/rtp/packet.js';
import { BENCH_NUMBER, BridgeChild, pinSelf, writeBenchConfig } from './load/bridge-child.js';
import { LoadPool } from './load/clients.js';
import { procDelta, procSnapshot } from './load/probes.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
const CALLS = (arg('calls') ?? '50,200')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const HOLD_S = Number(arg('hold') ?? 10);
const SIPP = '/usr/bin/sipp';
const SIP_PORT = 25060 + Math.floor(Math.random() * 1000);
const RTP_MIN = 40000;
const RTP_MAX = 41999;
const PROBE_LOUD = 2000; // mean |sample| of a frame counted as the probe's echo
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Result {
  path: string;
  n: number;
  placed: number;
  cpuPctPerCall: number;
  rssKbPerCall: number;
  rttP50: number;
  rttP99: number;
  spacingP50?: number;
  spacingP99?: number;
}

const pct = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** μ-law: a loud frame (a 1 kHz square wave at about ±8000) and silence. */
const LOUD = Buffer.from(Array.from({ length: 160 }, (_, i) => ((i >> 2) % 2 ? 0x9f : 0x1f)));
const SILENCE = Buffer.alloc(160, 0xff);
const MU = (b: number) => {
  const u = ~b & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
};
const loudness = (p: Buffer) => p.reduce((a, b) => a + Math.abs(MU(b)), 0) / Math.max(1, p.length);

class SipCaller {
  socket: Socket = createSocket('udp4');
  port = 0;
  bridge: number | undefined;
  seq = Math.floor(Math.random() * 60000);
  ts = 0;
  frame = 0;
  probeAt: number | undefined;
  lastArrival: number | undefined;
  constructor(private readonly out: { rtt: number[]; spacing: number[]; measuring: () => boolean }) {}

  async bind(port: number): Promise<boolean> {
    return new Promise((r) => {
      this.socket.once('error', () => r(false));
      this.socket.bind(port, '127.0.0.1', () => {
        this.port = port;
        this.socket.on('message', (b, rinfo) => this.onPacket(b, rinfo.port));
        r(true);
      });
    });
  }

  tick(now: number): void {
    if (this.bridge === undefined) return;
    // one probe a second, staggered by the call's own counter
    const probe = this.frame++ % 50 === 0 && this.probeAt === undefined;
    if (probe) this.probeAt = now;
    const payload = probe ? LOUD : SILENCE;
    const pkt = buildRtp({
      marker: false,
      payloadType: 0,
      sequence: this.seq++ & 0xffff,
      timestamp: this.ts,
      ssrc: 77,
      payload,
    });
    this.ts = (this.ts + 160) >>> 0;
    this.socket.send(pkt, this.bridge, '127.0.0.1');
  }

  private onPacket(b: Buffer, from: number): void {
    const p = parseRtp(b);
    if (!p) return;
    this.bridge ??= from;
    const now = performance.now();
    if (this.out.measuring()) {
      if (this.lastArrival !== undefined) this.out.spacing.push(now - this.lastArrival);
      if (this.probeAt !== undefined && loudness(p.payload) > PROBE_LOUD) {
        this.out.rtt.push(now - this.probeAt);
        this.probeAt = undefined;
      }
    } else if (loudness(p.payload) > PROBE_LOUD) this.probeAt = undefined;
    if (this.probeAt !== undefined && now - this.probeAt > 2000) this.probeAt = undefined; // lost
    this.lastArrival = now;
  }

  close(): void {
    this.socket.close();
  }
}

function scenario(dir: string): string {
  const path = join(dir, 'uac-bench.xml');
  writeFileSync(
    path,
    `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:+15557654321@[local_ip]:[local_port]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [field0] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:+15557654321@[local_ip]:[local_port]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
  <pause/>
  <send retrans="500"><![CDATA[
BYE sip:bridge@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
From: <sip:+15557654321@[local_ip]:[local_port]>;tag=[pid]b[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv response="200"/>
</scenario>
`,
  );
  return path;
}

async function sipStep(bridge: BridgeChild, n: number, baseRss: number, dir: string): Promise<Result> {
  const rtt: number[] = [];
  const spacing: number[] = [];
  let measuring = false;
  const callers: SipCaller[] = [];
  for (let port = 30000 + Math.floor(Math.random() * 500) * 2; callers.length < n && port < 39000; port += 2) {
    const c = new SipCaller({ rtt, spacing, measuring: () => measuring });
    if (await c.bind(port)) callers.push(c);
  }
  const csv = join(dir, 'ports.csv');
  writeFileSync(csv, ['SEQUENTIAL', ...callers.map((c) => `${c.port};`)].join('\n') + '\n');
  const rampS = Math.max(1, Math.ceil(n / 50));
  const durationMs = (rampS + 2 + HOLD_S + 2) * 1000;
  const sipp = spawn(
    'taskset',
    [
      '-c',
      '1',
      SIPP,
      '-sf',
      scenario(dir),
      '-inf',
      csv,
      '-m',
      String(n),
      '-l',
      String(n),
      '-r',
      '50',
      '-d',
      String(durationMs),
      '-i',
      '127.0.0.1',
      '-p',
      String(SIP_PORT + 1000),
      '-timeout',
      `${Math.ceil(durationMs / 1000) + 30}s`,
      '-nostdin',
      '-s',
      BENCH_NUMBER,
      `127.0.0.1:${SIP_PORT}`,
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((r) => sipp.on('close', (c) => r(c)));
  // one 20 ms clock for every caller, corrected for drift
  let due = performance.now();
  let stop = false;
  const ticking = (async () => {
    while (!stop) {
      due += 20;
      await sleep(Math.max(0, due - performance.now()));
      const now = performance.now();
      for (const c of callers) c.tick(now);
    }
  })();
  await sleep((rampS + 2) * 1000);
  const answered = callers.filter((c) => c.bridge !== undefined).length;
  const p0 = procSnapshot(bridge.pid);
  measuring = true;
  await sleep(HOLD_S * 1000);
  measuring = false;
  const p = procDelta(p0, procSnapshot(bridge.pid));
  const mem = await bridge.memory().catch(() => ({ rssMb: NaN }));
  const code = await exited;
  stop = true;
  await ticking;
  for (const c of callers) c.close();
  if (code !== 0) console.log(`  SIPp exited ${code} (some calls failed)`);
  return {
    path: 'SIP',
    n,
    placed: answered,
    cpuPctPerCall: p.bridgePct / Math.max(1, answered),
    rssKbPerCall: ((mem.rssMb - baseRss) * 1024) / Math.max(1, answered),
    rttP50: pct(rtt, 0.5),
    rttP99: pct(rtt, 0.99),
    spacingP50: pct(spacing, 0.5),
    spacingP99: pct(spacing, 0.99),
  };
}

async function twilioStep(bridge: BridgeChild, n: number, baseRss: number): Promise<Result> {
  const pool = new LoadPool({
    bridgeUrl: bridge.url,
    publicUrl: bridge.url,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    to: BENCH_NUMBER,
    lateMs: 60,
  });
  pool.startTicker();
  const placing: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    placing.push(pool.place().catch(() => undefined));
    await sleep(20);
  }
  await Promise.all(placing);
  await sleep(1000);
  const p0 = procSnapshot(bridge.pid);
  pool.beginWindow();
  await sleep(HOLD_S * 1000);
  const win = pool.endWindow();
  const p = procDelta(p0, procSnapshot(bridge.pid));
  const mem = await bridge.memory().catch(() => ({ rssMb: NaN }));
  pool.stopSending();
  const placed = pool.totals().calls;
  await pool.hangUpAll();
  pool.close();
  return {
    path: 'Twilio',
    n,
    placed,
    cpuPctPerCall: p.bridgePct / Math.max(1, placed),
    rssKbPerCall: ((mem.rssMb - baseRss) * 1024) / Math.max(1, placed),
    rttP50: win.e2eP50Ms,
    rttP99: win.e2eP99Ms,
  };
}

const f = (x: number | undefined, d = 1) => (x === undefined || Number.isNaN(x) ? '—' : x.toFixed(d));

async function main(): Promise<number> {
  if (!(await import('node:fs')).existsSync(SIPP)) {
    console.error("bench:sip needs Debian's SIPp (apt-get install sip-tester)");
    return 2;
  }
  pinSelf(1);
  const engine = await startOfflineEngine({ mode: 'loopback', logger: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'bench-sip-'));
  const config = writeBenchConfig(dir);
  // one SIPp source places every call: its INVITE rate is the benchmark's, not a flood to limit
  writeFileSync(
    config,
    `${(await import('node:fs')).readFileSync(config, 'utf8')}sip:\n  trunks:\n    - { name: bench, allow: ["127.0.0.1/32"] }\n  default_agent: bench\n  invite_limit: { per_second: 1000, burst: 1000 }\n`,
  );
  const bridge = new BridgeChild();
  try {
    await bridge.start({
      core: 0,
      engineUrl: engine.url,
      configPath: config,
      omniRate: '24000',
      lifetimeS: 600,
      env: {
        SIP_PORT: String(SIP_PORT),
        SIP_HOST: '127.0.0.1',
        RTP_PORT_MIN: String(RTP_MIN),
        RTP_PORT_MAX: String(RTP_MAX),
      },
    });
    await twilioStep(bridge, 10, NaN); // warm-up: JIT and the heap's working set are the baseline's
    await sipStep(bridge, 10, NaN, dir);
    const base = (await bridge.memory()).rssMb;
    const rows: Result[] = [];
    for (const n of CALLS) {
      rows.push(await twilioStep(bridge, n, base));
      await sleep(1000);
      rows.push(await sipStep(bridge, n, base, dir));
      await sleep(1000);
    }
    console.log(`\nbench:sip — the same bridge process (core 0), offline engine echoing; hold ${HOLD_S} s per step`);
    console.log('path    calls  up   CPU %core/call  RSS KB/call  round trip p50/p99 ms  RTP spacing p50/p99 ms');
    for (const r of rows)
      console.log(
        `${r.path.padEnd(7)} ${String(r.n).padStart(5)} ${String(r.placed).padStart(4)}   ${f(r.cpuPctPerCall, 3).padStart(12)}  ${f(r.rssKbPerCall, 0).padStart(11)}  ${`${f(r.rttP50)} / ${f(r.rttP99)}`.padStart(21)}  ${`${f(r.spacingP50)} / ${f(r.spacingP99)}`.padStart(22)}`,
      );
    console.log(
      'round trip: caller frame → agent frame back at the caller. Twilio: as the bridge writes it (Twilio then plays\n' +
        'it out through its own buffer); SIP: as the bridge sends it at the playout pace, its own queue included.',
    );
    console.log('goal: a SIP call costs no more CPU than a Twilio call (≤ 0.30 % of a core each)');
    return 0;
  } finally {
    await bridge.stop();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
