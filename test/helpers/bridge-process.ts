/**
 * A real bridge process (`node dist/main.js serve`) with the Twilio simulator in the test process: the
 * assembly of the console's and reload's end-to-end tests. Loopback only; the configuration is a
 * file the test can rewrite before a reload.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TEST_METRICS_TOKEN } from './tokens.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { startTwilioSimulator, type TwilioSimulator } from '../../src/sim/twilio/index.js';
import { BRIDGE_CLI, waitHealthy } from './process.js';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface BridgeProcess {
  url: string;
  child: ChildProcess;
  sim: TwilioSimulator;
  configPath: string;
  output(): string;
  writeConfig(cfg: unknown): void;
  /** GET/POST on the admin API with the bearer token */
  admin(path: string, method?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startBridgeProcess(o: {
  config: unknown;
  adminToken: string;
  env?: Record<string, string>;
  /** the process's open-file limit (soft and hard), as `ulimit -n` sets it */
  fdLimit?: number;
}): Promise<BridgeProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'opb-console-'));
  const configPath = join(dir, 'agents.json');
  const writeConfig = (cfg: unknown) =>
    writeFileSync(configPath, typeof cfg === 'string' ? cfg : JSON.stringify(cfg, null, 2));
  writeConfig(o.config);
  const sim = await startTwilioSimulator({
    bridgeUrl: url,
    publicUrl: url,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    human: { answer: 'answer', talkMs: 600 },
  });
  const argv = [process.execPath, ...BRIDGE_CLI, 'serve'];
  const [cmd, ...args] =
    o.fdLimit === undefined ? argv : ['/bin/sh', '-c', `ulimit -n ${o.fdLimit} && exec "$0" "$@"`, ...argv];
  const child = spawn(cmd!, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
      TWILIO_API_BASE: sim.restBase,
      ADMIN_TOKEN: o.adminToken,
      METRICS_TOKEN: TEST_METRICS_TOKEN, // scrapedValue's bearer, as a production scraper has its own
      BRIDGE_CONFIG: configPath,
      DRAIN_TIMEOUT_MS: '2000',
      ...(o.env ?? {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitHealthy(port, 90_000, exited))) {
    await close();
    throw new Error(`the bridge did not start:\n${out.slice(-2000)}`);
  }
  return {
    url,
    child,
    sim,
    configPath,
    writeConfig,
    close,
    output: () => out,
    async admin(path, method = 'GET') {
      const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${o.adminToken}` } });
      return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    },
  };
}

/** The calls the bridge lists on its admin API: sid → agent. */
export async function adminCalls(b: BridgeProcess): Promise<Map<string, string>> {
  const { json } = await b.admin('/admin/calls');
  return new Map(((json.calls ?? []) as { callSid: string; agent: string }[]).map((c) => [c.callSid, c.agent]));
}

/** Polls until `cond` resolves true, or throws after `ms` (a hang detector sized for a loaded machine). */
export async function eventually(
  cond: () => Promise<boolean> | boolean,
  ms = 30_000,
  what = 'condition',
): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
