import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs one Debian SIPp scenario against a SIP server on loopback, in a fresh folder of its own
 * (the scenario, and `pcap/` linked to SIPp's shipped recordings), and resolves with its exit code
 * and the tail of its output. Bounded: SIPp's own `-timeout` (25 s unless given) and a kill 10 s
 * after it. Random local signalling and media ports keep concurrent runs apart; a run whose port
 * another process held (SIPp exits at once saying it could not bind) is run again on new ones.
 */
export interface SippRun {
  code: number | null;
  out: string;
  /** the run's folder (traces from -trace_msg land here); the caller removes it */
  dir: string;
}

export const SIPP_BIN = '/usr/bin/sipp';
const randomEven = (lo: number, span: number) => lo + 2 * Math.floor(Math.random() * (span / 2));

/** SIPp could not bind a port another run holds: it exits at once, and a run on fresh ports is the same test. */
const BIND_FAILED = /Unable to bind|Address already in use/i;

export async function runSipp(o: Parameters<typeof runSippOnce>[0]): Promise<SippRun> {
  for (let attempt = 1; ; attempt++) {
    const { bindFailed, ...r } = await runSippOnce(o);
    if (r.code === 0 || attempt >= 3 || !bindFailed) return r;
    rmSync(r.dir, { recursive: true, force: true });
  }
}

function runSippOnce(o: {
  scenariosDir: string;
  scenario: string;
  /** where the scenario sends: host:port */
  target: string;
  /** the Request-URI user (-s) */
  service: string;
  extra?: string[];
  localIp?: string;
  /** SIPp's own SIP port (a UAS the bridge calls); default: a random one */
  localPort?: number;
}): Promise<SippRun & { bindFailed: boolean }> {
  const extra = o.extra ?? [];
  const localIp = o.localIp ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  symlinkSync('/usr/share/sip-tester', join(dir, 'pcap'));
  copyFileSync(join(o.scenariosDir, o.scenario), join(dir, o.scenario));
  const given = extra.indexOf('-timeout');
  const timeoutS = given >= 0 ? parseInt(extra[given + 1]!, 10) : 25;
  const args = [
    ...['-sf', o.scenario, ...(extra.includes('-m') ? [] : ['-m', '1'])],
    ...(given >= 0 ? [] : ['-timeout', '25s']),
    ...['-timeout_error', '-nostdin'],
    ...[
      '-i',
      localIp,
      '-p',
      String(o.localPort ?? randomEven(21000, 8000) + 1),
      '-mi',
      localIp,
      '-mp',
      String(randomEven(10000, 8000)),
    ],
    ...extra,
    ...['-s', o.service, o.target],
  ];
  return new Promise((resolve) => {
    const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const guard = setTimeout(() => child.kill('SIGKILL'), (timeoutS + 10) * 1000);
    child.on('close', (code) => {
      clearTimeout(guard);
      // the bind error is at the head of SIPp's output, which the tail kept for the test leaves out
      resolve({ code, out: out.slice(-3000), dir, bindFailed: BIND_FAILED.test(out) });
    });
  });
}
