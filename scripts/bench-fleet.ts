/**
 * Fleet benchmark (`npm run bench:fleet`): what the shared store costs a call at its edges.
 *
 * One bridge in this process, the offline engine, calls driven by hand one at a time like Twilio
 * drives them. Measured per call:
 *   - set-up: the signed voice webhook's answer, plus `start` → the session bound to its stream
 *     (the store's admission, single use and directory entry all sit on these two edges);
 *   - tear-down: `stop` → the call record (the directory release happens here);
 *   - store operations per call.
 * Side by side: in-process store (one replica) and Redis (REDIS_URL, default 127.0.0.1:6379,
 * a random key prefix deleted afterwards), with the ratio. Pre-connect is off in both, as it is
 * in a fleet, so the rows differ by the store only.
 *
 * Usage: tsx scripts/bench-fleet.ts [calls=40]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { DEFAULT_CONFIG_PATH } from '../src/config/loader.js';
import { silentLogger } from '../src/observability/logger.js';
import { startStack, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../src/sim/stack.js';
import { RawStream, postVoice, sid } from '../test/helpers/raw-twilio.js';

const CALLS = Math.max(1, Number(process.argv[2] ?? 40));
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  setupMs: number;
  teardownMs: number;
}

async function run(redis: boolean, prefix: string): Promise<{ samples: Sample[]; opsPerCall: number }> {
  const stack = await startStack({
    configText: readFileSync(DEFAULT_CONFIG_PATH, 'utf8'),
    tweak: (cfg) => {
      cfg.file.bridge.preconnect.enabled = false;
      cfg.file.bridge.fleet.max_concurrent_calls = 1000;
      // No periodic renewal inside the measurement: this counts the per-call operations.
      cfg.file.bridge.fleet.lease_s = 300;
    },
    logger: silentLogger(),
    env: redis ? { REDIS_URL, REDIS_KEY_PREFIX: prefix } : {},
  });
  const target = { bridgeUrl: stack.bridgeUrl, authToken: SIM_AUTH_TOKEN, accountSid: SIM_ACCOUNT_SID };
  const store = stack.bridge.ctx.registry.store;
  const samples: Sample[] = [];
  let opsBefore = 0;
  try {
    // Call -1 warms the process up and is not counted.
    for (let i = -1; i < CALLS; i++) {
      if (i === 0) opsBefore = [...store.ops.values()].reduce((a, b) => a + b, 0);
      const callSid = sid('CA');
      const t0 = performance.now();
      const hook = await postVoice(target, { callSid, to: '+15550001111' });
      if (hook.status !== 200) throw new Error(`voice webhook answered ${hook.status}`);
      const hookMs = performance.now() - t0;
      const raw = await RawStream.open(target);
      const s0 = performance.now();
      raw.start(callSid, { agent: 'support' });
      while (!stack.bridge.ctx.registry.get(callSid)?.hasStream) await sleep(1);
      const attachMs = performance.now() - s0;
      const stopPacing = raw.pace();
      await raw.waitFor((m) => m.event === 'media', 10_000);
      stopPacing();
      const e0 = performance.now();
      raw.stop();
      while (stack.bridge.ctx.registry.get(callSid)) await sleep(1);
      const teardownMs = performance.now() - e0;
      raw.close();
      if (i >= 0) samples.push({ setupMs: hookMs + attachMs, teardownMs });
    }
    await sleep(200);
    const ops = [...store.ops.values()].reduce((a, b) => a + b, 0) - opsBefore;
    return { samples, opsPerCall: ops / CALLS };
  } finally {
    await stack.close();
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

async function main(): Promise<void> {
  const prefix = `bench-opb-${randomBytes(4).toString('hex')}:`;
  console.log(
    `fleet benchmark: ${CALLS} calls per side, one at a time, pre-connect off; Redis at ${new URL(REDIS_URL).host}\n`,
  );
  const mem = await run(false, prefix);
  const red = await run(true, prefix);
  const cleanup = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await cleanup.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) await cleanup.del(...keys);
  } while (cursor !== '0');
  cleanup.disconnect();
  const rows: [string, (s: Sample) => number][] = [
    ['set-up', (s) => s.setupMs],
    ['tear-down', (s) => s.teardownMs],
  ];
  const f = (v: number) => v.toFixed(2).padStart(8);
  console.log('measure          in-process p50/p90 ms     Redis p50/p90 ms     ratio p50');
  for (const [name, get] of rows) {
    const a = mem.samples.map(get);
    const b = red.samples.map(get);
    console.log(
      `${name.padEnd(14)} ${f(pct(a, 0.5))} ${f(pct(a, 0.9))}        ${f(pct(b, 0.5))} ${f(pct(b, 0.9))}       ${(pct(b, 0.5) / pct(a, 0.5)).toFixed(2)}×`,
    );
  }
  console.log(
    `store operations per call: in-process ${mem.opsPerCall.toFixed(1)}, Redis ${red.opsPerCall.toFixed(1)} (none per audio frame)`,
  );
}

void main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
