import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RtpLatch } from '../../../src/rtp/latch.js';
import { parseRtp } from '../../../src/rtp/packet.js';
import { bindRtpSocket, PortPool, type RtpSocket } from '../../../src/rtp/port-pool.js';
import { answerOffer } from '../../../src/sip/sdp.js';
import { TrunkSelector } from '../../../src/sip/admission.js';
import type { SipRequest } from '../../../src/sip/message.js';
import { screenInvite } from '../../../src/sip/screen.js';
import { SipTransport, type SipSource } from '../../../src/sip/transport.js';
import { Uas, type EndReason, type InviteOutcome } from '../../../src/sip/uas.js';

/**
 * The UAS against Debian's SIPp (a SIP stack nobody here wrote), on 127.0.0.1: a tiny server that
 * answers with SDP from the offer and echoes RTP to where it really comes from.
 */

const HOST = '127.0.0.1';
const SCENARIOS = new URL('./scenarios/', import.meta.url).pathname;
const HAVE_SIPP = existsSync('/usr/bin/sipp');

interface Server {
  transport: SipTransport;
  uas: Uas;
  ended: EndReason[];
  rtp: { received: number; payloadTypes: Set<number> };
  sockets: RtpSocket[];
}

let server: Server | undefined;
let workDir: string | undefined;
afterEach(async () => {
  server?.uas.closeAll();
  for (const s of server?.sockets ?? []) await s.close();
  await server?.transport.close();
  server = undefined;
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  workDir = undefined;
});

const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));

async function startServer(mode: 'answer' | 'ring', digest = false): Promise<Server> {
  const base = randomEven(30000, 20000);
  const pool = new PortPool(base, base + 9);
  const ended: EndReason[] = [];
  const rtp = { received: 0, payloadTypes: new Set<number>() };
  const sockets: RtpSocket[] = [];
  // eslint-disable-next-line prefer-const
  let uas: Uas;
  const transport = await SipTransport.listen({ host: HOST, port: 0, onMessage: (m, s) => uas.handle(m, s) });
  uas = new Uas(
    transport,
    {
      onInvite: async (call): Promise<InviteOutcome> => {
        if (mode === 'ring') {
          await new Promise<void>((r) => call.signal.addEventListener('abort', () => r()));
          return { status: 480 };
        }
        const sock = await bindRtpSocket(pool, HOST);
        if (!sock) return { status: 503 };
        sockets.push(sock);
        const a = answerOffer(call.invite.body.toString(), {
          publicAddress: HOST,
          rtpPort: sock.port,
          sessionId: '1',
          sessionVersion: 1,
        });
        if (!a.ok) return { status: a.status };
        const latch = new RtpLatch(a.media.remote);
        sock.socket.on('message', (buf, rinfo) => {
          const p = parseRtp(buf);
          if (!p || !latch.accept({ address: rinfo.address, port: rinfo.port })) return;
          rtp.received++;
          rtp.payloadTypes.add(p.payloadType);
          const to = latch.target!;
          sock.socket.send(buf, to.port, to.address);
        });
        return { answer: a.sdp };
      },
      onEnded: (_c, why) => ended.push(why),
      ...(digest
        ? {
            screen: (req: SipRequest, src: SipSource) =>
              screenInvite(req, src.address, {
                selector: new TrunkSelector([{ name: 'loopback', allow: ['127.0.0.0/8'] }]),
                digestFor: () => ({
                  policy: { realm: 'bridge', secret: Buffer.alloc(32, 1) },
                  credentials: { username: 'trunk1', password: 's3cret-pass' },
                }),
              }),
          }
        : {}),
    },
    { contact: `sip:bridge@${HOST}:${transport.port}`, viaHost: HOST, viaPort: transport.port },
  );
  return { transport, uas, ended, rtp, sockets };
}

/** Runs SIPp as a UAC for one call; resolves with its exit code (0: the scenario passed). */
function sipp(scenario: string, port: number, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  workDir = mkdtempSync(join(tmpdir(), 'sipp-'));
  symlinkSync('/usr/share/sip-tester', join(workDir, 'pcap'));
  copyFileSync(join(SCENARIOS, scenario), join(workDir, scenario));
  const args = [
    ...['-sf', scenario, '-m', '1', '-timeout', '20s', '-timeout_error', '-nostdin'],
    ...['-i', HOST, '-p', String(randomEven(21000, 8000) + 1), '-mi', HOST, '-mp', String(randomEven(10000, 8000))],
    ...extra,
    ...['-s', '+15551234567', `${HOST}:${port}`],
  ];
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/sipp', args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, out: out.slice(-3000) });
    });
  });
}

// Skipped only outside CI: under CI=true a missing SIPp is a failure, not a silent pass.
describe.skipIf(!HAVE_SIPP && !process.env.CI)('UAS against SIPp', () => {
  it('answers a PCMA call, echoes its RTP, and takes its BYE', { timeout: 40_000 }, async () => {
    server = await startServer('answer');
    const r = await sipp('uac-pcma-pcap.xml', server.transport.port);
    expect(r.code, r.out).toBe(0);
    expect(server.ended).toEqual(['bye']);
    expect(server.rtp.received).toBeGreaterThan(10);
    expect([...server.rtp.payloadTypes]).toEqual([8]);
    expect(server.uas.activeCalls).toBe(0);
  });

  it('answers a CANCEL while ringing with 200 and 487', { timeout: 40_000 }, async () => {
    server = await startServer('ring');
    const r = await sipp('uac-cancel.xml', server.transport.port);
    expect(r.code, r.out).toBe(0);
    expect(server.ended).toEqual(['cancel']);
    expect(server.uas.activeCalls).toBe(0);
  });

  it('challenges with 407 and takes the call when SIPp answers the digest', { timeout: 40_000 }, async () => {
    server = await startServer('answer', true);
    const auth = ['-au', 'trunk1', '-ap', 's3cret-pass', '-auth_uri', `+15551234567@${HOST}:${server.transport.port}`];
    const r = await sipp('uac-digest.xml', server.transport.port, auth);
    expect(r.code, r.out).toBe(0);
    expect(server.ended).toEqual(['bye']);
  });

  it('answers 403 to a wrong digest password', { timeout: 40_000 }, async () => {
    server = await startServer('answer', true);
    const auth = ['-au', 'trunk1', '-ap', 'wrong', '-auth_uri', `+15551234567@${HOST}:${server.transport.port}`];
    const r = await sipp('uac-digest-wrong.xml', server.transport.port, auth);
    expect(r.code, r.out).toBe(0);
    expect(server.ended).toEqual([]);
    expect(server.rtp.received).toBe(0);
  });
});
