import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { janitor, sleep, startBridgeStack, SUPPORT_NUMBER, type BridgeStack } from '../../helpers/bridge-stack.js';
import { waitFor } from '../../helpers/harness.js';
import { freePort } from '../../../src/sim/free-port.js';
import { runSipp, SIPP_BIN } from '../../helpers/sipp.js';

/**
 * The shipped dispatcher (deploy/kamailio/kamailio.cfg) in front of two replicas, with Debian's
 * Kamailio and SIPp: calls are spread over the replicas that answer OPTIONS, a draining replica
 * (OPTIONS 503) gets no new call, and the dialog after the INVITE goes to the replica that
 * answered, not through the dispatcher.
 */

const HOST = '127.0.0.1';
const KAMAILIO = '/usr/sbin/kamailio';
const CONFIG = new URL('../../../deploy/kamailio/kamailio.cfg', import.meta.url).pathname;
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE = existsSync(KAMAILIO) && existsSync(SIPP_BIN);
const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));

const jan = janitor();
const dirs: string[] = [];
afterEach(async () => {
  await jan.closeAll();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

async function replica(): Promise<BridgeStack & { sipPort: number }> {
  const rtpPort = randomEven(30000, 20000);
  const s = jan.track(
    await startBridgeStack({
      env: { SIP_PORT: '0', SIP_HOST: HOST, RTP_PORT_MIN: String(rtpPort), RTP_PORT_MAX: String(rtpPort + 5) },
      tweak: (cfg) => {
        cfg.file.sip = {
          trunks: [{ name: 'loopback', allow: ['127.0.0.1/32'], transfer: 'refer' }],
          answer_wait_ms: 5000,
          media_timeout_s: 30,
          // every INVITE comes from the dispatcher's one address: the per-source limit is the trunk's
          invite_limit: { per_second: 100, burst: 100 },
        };
      },
    }),
  );
  return Object.assign(s, { sipPort: s.bridge.sip!.port });
}

async function dispatcher(replicaPorts: number[]): Promise<{ port: number; log: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kamailio-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'dispatcher.list'), replicaPorts.map((p) => `1 sip:${HOST}:${p}\n`).join(''));
  const port = await freePort();
  let log = '';
  const child: ChildProcess = spawn(
    KAMAILIO,
    [
      ...['-f', CONFIG, '-DD', '-E', '-Y', dir, '-P', join(dir, 'kamailio.pid')],
      ...[
        '-A',
        `LISTEN=udp:${HOST}:${port}`,
        '-A',
        `DS_LIST="${join(dir, 'dispatcher.list')}"`,
        '-A',
        'PING_INTERVAL=1',
      ],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-200_000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  jan.track({
    close: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
    },
  });
  await waitFor(() => /Listening on/.test(log) || child.exitCode !== null, 10_000);
  expect(child.exitCode, log.slice(-2000)).toBeNull();
  return { port, log: () => log };
}

const call = (port: number) =>
  runSipp({
    scenariosDir: SCENARIOS,
    scenario: 'uac-via-proxy.xml',
    target: `${HOST}:${port}`,
    service: SUPPORT_NUMBER,
  });

describe.skipIf(!HAVE && !process.env.CI)('the shipped Kamailio dispatcher in front of two replicas', () => {
  it(
    'spreads calls over the replicas that answer OPTIONS, and a draining replica gets none',
    { timeout: 120_000 },
    async () => {
      const a = await replica();
      const b = await replica();
      const kam = await dispatcher([a.sipPort, b.sipPort]);
      // both probed alive (each got its OPTIONS and answered 200) before the first call
      await sleep(2500);
      for (let i = 0; i < 4; i++) {
        const r = await call(kam.port);
        dirs.push(r.dir);
        expect(r.code, `${r.out}\n--- kamailio ---\n${kam.log().slice(-3000)}`).toBe(0);
      }
      await waitFor(() => a.records.length + b.records.length === 4, 10_000);
      // round-robin over two live replicas: two each
      expect([a.records.length, b.records.length]).toEqual([2, 2]);
      for (const rec of [...a.records, ...b.records])
        expect(rec).toMatchObject({ transport: 'sip', outcome: 'caller_hangup' });

      // replica A drains: its OPTIONS now answer 503 and the dispatcher stops choosing it
      const drained = a.bridge.drain(60_000);
      await sleep(2500);
      for (let i = 0; i < 3; i++) {
        const r = await call(kam.port);
        dirs.push(r.dir);
        expect(r.code, r.out).toBe(0);
      }
      await waitFor(() => b.records.length === 5, 10_000);
      expect(a.records).toHaveLength(2);
      expect(a.engine.sessions).toHaveLength(2); // and no engine session opened there for a new call
      await drained;
    },
  );
});
