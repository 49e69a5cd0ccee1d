/**
 * The bridge under test as a child process pinned to one core (taskset), started through
 * scripts/load/bridge-proc.ts with everything in its environment, and never left behind: the
 * child also exits by itself when this process goes away (IPC disconnect) or after its lifetime.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { BENCH_METRICS_TOKEN } from './probes.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = resolve(HERE, '../..');
export const BRIDGE_LOG = join(tmpdir(), 'bench-load-bridge.log');
/** the number the benchmark calls; routed to the bench agent */
export const BENCH_NUMBER = '+15550001000';

/** Pins this whole process (every thread) to one core. */
export function pinSelf(core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-cp', String(core), String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The bench configuration: one agent, no tools, no pre-connect, a high call limit.
 * `coalesceMs` sets bridge.write_coalesce_ms (default: the shipped default).
 */
export function writeBenchConfig(dir: string, coalesceMs?: number): string {
  const path = join(dir, 'bench.yaml');
  writeFileSync(
    path,
    [
      'default_agent: bench',
      'agents:',
      '  - id: bench',
      '    persona: Load test agent. The engine echoes the caller.',
      'numbers:',
      `  "${BENCH_NUMBER}": { agent: bench }`,
      'bridge:',
      '  max_concurrent_calls: 5000',
      // Pre-connecting feeds the engine silence until the stream starts; a loopback engine would
      // echo it as agent audio queued ahead of the caller's (a real agent does not answer silence).
      '  preconnect: { enabled: false }',
      ...(coalesceMs !== undefined ? [`  write_coalesce_ms: ${coalesceMs}`] : []),
      '',
    ].join('\n'),
  );
  return path;
}

export interface BridgeChildOptions {
  core: number;
  engineUrl: string;
  configPath: string;
  omniRate: string;
  lifetimeS: number;
  /** `--cpu-prof` into this directory */
  profileDir?: string;
  /** more node flags (e.g. --trace-gc), from BENCH_BRIDGE_NODE_ARGS */
  extraNodeArgs?: string[];
  /** where its output goes (default BRIDGE_LOG) */
  logPath?: string;
  /** more environment for the bridge (paired comparisons of a setting) */
  env?: Record<string, string>;
  /** the checkout to run the bridge from (default: this one), for paired comparisons of two trees */
  root?: string;
}

export class BridgeChild {
  private child: ChildProcess | undefined;
  url = '';
  pid = 0;

  async start(o: BridgeChildOptions): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    // The production flags (package.json `start`, Dockerfile), plus --expose-gc for the memory probe.
    const nodeArgs = ['--heap-growing-percent=300', '--import', 'tsx', '--expose-gc', ...(o.extraNodeArgs ?? [])];
    if (o.profileDir) {
      mkdirSync(o.profileDir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${o.profileDir}`);
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: this.url,
      PYAI_BASE_URL: o.engineUrl,
      OMNI_RATE: o.omniRate,
      TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
      // REST is never needed here; were a fallback to run, it must stay on loopback (a closed port).
      TWILIO_API_BASE: 'http://127.0.0.1:9',
      TWILIO_SIGNATURE_VALIDATION: 'on',
      METRICS_TOKEN: BENCH_METRICS_TOKEN,
      BRIDGE_CONFIG: o.configPath,
      LOG_LEVEL: 'warn',
      BENCH_MAX_LIFETIME_S: String(o.lifetimeS),
      ...o.env,
    };
    delete env.PYAI_API_KEY;
    delete env.CALL_RECORDS_FILE;
    const log = openSync(o.logPath ?? BRIDGE_LOG, 'w');
    const root = o.root ? resolve(o.root) : ROOT;
    const child = spawn(
      'taskset',
      ['-c', String(o.core), process.execPath, ...nodeArgs, join(root, 'scripts/load/bridge-proc.ts')],
      {
        cwd: root,
        env,
        stdio: ['ignore', log, log, 'ipc'],
      },
    );
    this.child = child;
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error('bridge did not start within 30 s')), 30_000);
      child.once('exit', (code) => reject(new Error(`bridge exited during start (code ${code}); see ${BRIDGE_LOG}`)));
      child.on('message', (m: { type?: string; pid?: number }) => {
        if (m?.type !== 'ready') return;
        clearTimeout(timer);
        this.pid = m.pid ?? child.pid!;
        resolveReady();
      });
    });
  }

  /** process.memoryUsage() of the bridge right after a full GC (MB). */
  memory(timeoutMs = 5000): Promise<{ rssMb: number; heapMb: number; externalMb: number }> {
    const child = this.child;
    if (!child || !this.alive) return Promise.reject(new Error('bridge is not running'));
    return new Promise((resolveMem, reject) => {
      const timer = setTimeout(() => {
        child.off('message', onMessage);
        reject(new Error('bridge did not report its memory'));
      }, timeoutMs);
      const onMessage = (m: { type?: string; rss?: number; heapUsed?: number; external?: number }) => {
        if (m?.type !== 'memory') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        const mb = (v?: number) => (v ?? NaN) / 1048576;
        resolveMem({ rssMb: mb(m.rss), heapMb: mb(m.heapUsed), externalMb: mb(m.external) });
      };
      child.on('message', onMessage);
      child.send({ type: 'memory' });
    });
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.child!.kill(signal);
  }

  /** SIGTERM, then waits (bounded) for the exit: how `--cpu-prof` gets to write its profile. */
  async stop(timeoutMs = 8000): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise<void>((r) => this.child!.once('exit', () => r()));
    this.kill('SIGTERM');
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, timeoutMs).unref())]);
    this.kill('SIGKILL');
  }
}
