/**
 * Control plane benchmark (`npm run bench:control`). Needs the PostgreSQL of these
 * machines (TEST_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres); it
 * creates its own database and drops it.
 *
 *  1. Call set-up: the signed voice webhook's answer time (routing to the agent, TwiML), with the
 *     configuration from the file and from PostgreSQL. The database is read when a change is
 *     heard, never on a call's path: the goal is ≤ 1 ms added at p50, nothing per audio frame.
 *  2. Propagation: a change committed through replica A's stores until replica B's next call
 *     would take it (LISTEN/NOTIFY, a reload), p50/p99 — goal: p99 ≤ 1 s.
 *
 * Usage: tsx scripts/bench-control.ts [calls=200] [changes=40]
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseImport, importConfig } from '../src/control-plane/config-sync.js';
import { silentLogger } from '../src/observability/logger.js';
import { startStack, SIM_ACCOUNT_SID, SIM_AUTH_TOKEN, type Stack } from '../src/sim/stack.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { postVoice, sid } from '../test/helpers/raw-twilio.js';

const CALLS = Math.max(10, Number(process.argv[2] ?? 200));
const CHANGES = Math.max(5, Number(process.argv[3] ?? 40));
const NUMBER = '+15550001111';
const SECRETS_KEY = randomBytes(32).toString('base64');
const ADMIN_TOKEN = randomBytes(32).toString('hex');

const AGENT = {
  id: 'support',
  persona: 'You are the benchmark agent.',
  greeting: 'Hello.',
  tools: [],
};
const FILE = { default_agent: 'support', agents: [AGENT], numbers: { [NUMBER]: { agent: 'support' } } };
const DOC = {
  ...FILE,
  agents: [{ ...AGENT, bindings: [{ tool: 'get_order_status', enabled: true, settings: {} }] }],
  tools: [
    {
      name: 'get_order_status',
      description: 'Order status by number.',
      side_effect: 'read',
      parameters: { type: 'object', properties: { order_id: { type: 'string' } } },
      module: { module: './tools/get_order_status.js' },
    },
  ],
};

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const fmt = (xs: number[]) =>
  `p50 ${quantile(xs, 0.5).toFixed(2)} ms, p99 ${quantile(xs, 0.99).toFixed(2)} ms (${xs.length})`;

async function stackOn(dbUrl?: string): Promise<Stack> {
  return startStack({
    configText: JSON.stringify(FILE),
    // each webhook only routes and answers: no engine session left open behind it
    tweak: (cfg) => {
      cfg.file.bridge.preconnect.enabled = false;
    },
    logger: silentLogger(),
    env: dbUrl ? { DATABASE_URL: dbUrl, SECRETS_KEY, ADMIN_TOKEN } : {},
  });
}

async function setUpTimes(stack: Stack): Promise<number[]> {
  const target = { bridgeUrl: stack.bridgeUrl, authToken: SIM_AUTH_TOKEN, accountSid: SIM_ACCOUNT_SID };
  const out: number[] = [];
  for (let i = -20; i < CALLS; i++) {
    const t0 = performance.now();
    const r = await postVoice(target, { callSid: sid('CA'), to: NUMBER });
    const ms = performance.now() - t0;
    if (r.status !== 200) throw new Error(`voice webhook answered ${r.status}`);
    if (i >= 0) out.push(ms);
  }
  return out;
}

async function waitUntil(cond: () => boolean, guardMs = 10_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > guardMs) throw new Error('a change did not arrive within the 10 s hang guard');
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const open: Stack[] = [];
  try {
    const file = await stackOn();
    open.push(file);
    const fileTimes = await setUpTimes(file);

    const a = await stackOn(db.url);
    open.push(a);
    const b = await stackOn(db.url);
    open.push(b);
    const cp = a.bridge.controlPlane!;
    await importConfig(cp, parseImport(JSON.stringify(DOC), new Set()));
    const toolOnB = () => b.bridge.ctx.agentForNumber(NUMBER).tools.some((t) => t.name === 'get_order_status');
    await waitUntil(toolOnB);
    const dbTimes = await setUpTimes(b);

    const propagation: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      const greeting = `Hello, change ${i}.`;
      await cp.config.putAgent({ id: null, name: 'bench' }, 'support', { ...AGENT, greeting });
      const committed = performance.now();
      await waitUntil(() => b.bridge.ctx.agentForNumber(NUMBER).greeting === greeting);
      propagation.push(performance.now() - committed);
    }

    // on a shared machine the numbers are the load's as much as the bridge's: say what it was
    console.log(`load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);
    console.log(`call set-up (voice webhook → TwiML), configuration from the file:       ${fmt(fileTimes)}`);
    console.log(`call set-up (voice webhook → TwiML), configuration from PostgreSQL:     ${fmt(dbTimes)}`);
    console.log(
      `added at p50: ${(quantile(dbTimes, 0.5) - quantile(fileTimes, 0.5)).toFixed(2)} ms (goal ≤ 1 ms; no database read on a call's path, none per audio frame)`,
    );
    console.log(
      `change committed on A → in force for B's next call:                  ${fmt(propagation)} (goal p99 ≤ 1000 ms)`,
    );
  } finally {
    for (const s of open.reverse()) await s.close().catch(() => undefined);
    await db.drop();
  }
}

await main();
