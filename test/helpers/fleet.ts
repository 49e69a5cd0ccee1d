/**
 * A fleet on loopback for the fleet tests: N real bridge processes (`node dist/main.js serve`) sharing
 * one Redis under a random key prefix, one Twilio simulator balancing every request over them
 * round robin (no affinity), and offline engines in the test process reached by PYAI_BASE_URL
 * or an agent's engine.base_url.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { startTwilioSimulator, type HumanBehaviour, type TwilioSimulator } from '../../src/sim/twilio/index.js';
import { BRIDGE_CLI, waitHealthy } from './process.js';
import { dropPrefix, randomPrefix, REDIS_URL } from './redis.js';
import { testToken } from './tokens.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/** Every replica's PUBLIC_URL: what Twilio signs. The simulator maps it to the replicas. */
export const FLEET_PUBLIC_URL = 'http://127.0.0.1:9';
export const FLEET_ADMIN_TOKEN = testToken('fleet admin');

export interface Replica {
  id: string;
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  admin(path: string, method?: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
}

export interface Fleet {
  replicas: Replica[];
  sim: TwilioSimulator;
  prefix: string;
  redis: Redis;
  /** directory entries (CallSid → replica) as Redis holds them, live leases only */
  directory(): Promise<Map<string, string>>;
  close(): Promise<void>;
}

export async function startFleet(o: {
  n: number;
  config: unknown;
  env?: Record<string, string>;
  human?: HumanBehaviour;
  /** a balancer in front of the replicas (their URLs): the simulator then sends everything to it */
  balancer?: (replicaUrls: string[]) => Promise<{ url: string; close(): Promise<void> }>;
}): Promise<Fleet> {
  const prefix = randomPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'opb-fleet-'));
  const configPath = join(dir, 'agents.json');
  writeFileSync(configPath, JSON.stringify(o.config, null, 2));
  const ports = await Promise.all(Array.from({ length: o.n }, () => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const balancer = o.balancer ? await o.balancer(urls) : undefined;
  const sim = await startTwilioSimulator({
    bridgeUrl: balancer?.url ?? urls[0]!,
    replicaUrls: balancer ? [balancer.url] : urls,
    publicUrl: FLEET_PUBLIC_URL,
    accountSid: SIM_ACCOUNT_SID,
    authToken: SIM_AUTH_TOKEN,
    human: o.human ?? { answer: 'answer', talkMs: 600 },
  });
  const replicas: Replica[] = ports.map((port, i) => {
    const id = `r${i}`;
    const child = spawn(process.execPath, [...BRIDGE_CLI, 'serve'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: String(port),
        PUBLIC_URL: FLEET_PUBLIC_URL,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        TWILIO_ACCOUNT_SID: SIM_ACCOUNT_SID,
        TWILIO_AUTH_TOKEN: SIM_AUTH_TOKEN,
        TWILIO_API_BASE: sim.restBase,
        ADMIN_TOKEN: FLEET_ADMIN_TOKEN,
        BRIDGE_CONFIG: configPath,
        DRAIN_TIMEOUT_MS: '5000',
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        REPLICA_ID: id,
        ...(o.env ?? {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return {
      id,
      url: urls[i]!,
      child,
      exited,
      output: () => out,
      async admin(path, method = 'GET', body) {
        const res = await fetch(`${urls[i]}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${FLEET_ADMIN_TOKEN}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
      },
    };
  });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const close = async () => {
    await Promise.all(
      replicas.map(async (r) => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) return;
        r.child.kill('SIGKILL');
        await r.exited;
      }),
    );
    await sim.close();
    await balancer?.close();
    redis.disconnect();
    await dropPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  };
  const up = await Promise.all(replicas.map((r, i) => waitHealthy(ports[i]!, 120_000, r.exited)));
  if (up.includes(false)) {
    const out = replicas.map((r) => `--- ${r.id}\n${r.output().slice(-1500)}`).join('\n');
    await close();
    throw new Error(`a replica did not start:\n${out}`);
  }
  return {
    replicas,
    sim,
    prefix,
    redis,
    close,
    async directory() {
      const t = await redis.time();
      const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
      const sids = await redis.zrangebyscore(`${prefix}slots`, now, '+inf');
      const out = new Map<string, string>();
      for (const sid of sids) {
        const raw = await redis.get(`${prefix}call:${sid}`);
        out.set(sid, raw ? (JSON.parse(raw) as { replica: string }).replica : '(slot only)');
      }
      return out;
    },
  };
}

/** Polls until `cond` holds, or throws after `ms` (a hang detector sized for a loaded machine). */
export async function until(cond: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
