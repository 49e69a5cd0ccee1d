/**
 * Issue 30: with DATABASE_URL the database is the configuration for calls. Two replicas on one
 * database: what is written through replica A's API reaches new calls on replica B (LISTEN/NOTIFY),
 * while a call already in progress on B keeps the tools it started with; a tool disabled, or a
 * binding turned off, is gone from new calls, and a tool_call for it answers unknown_tool.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../../src/sim/engine/index.js';
import type { TimelineEntry } from '../../../src/sim/twilio/index.js';
import { AGENT_NUMBER, CALLER_NUMBER, testConfig, toneVoice } from '../../helpers/control.js';
import { startHarness, waitFor, type Harness } from '../../helpers/harness.js';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../../helpers/postgres.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane live config');
const SECRETS_KEY = randomBytes(32).toString('base64');
/** a hang guard, not a latency bound: propagation is measured by npm run bench:control */
const PROPAGATION_GUARD_MS = 10_000;

let db: TestDatabase;
let a: Harness;
let b: Harness;

// Every engine session plays this: greet, wait for '#', call the order tool, say its answer, hang up.
const STEPS = [
  { say: 'Hi.', no_wait: true },
  { wait_for_dtmf: { until: '#', timeout_ms: 30_000 } },
  { tool_call: { name: 'get_order_status', arguments: { order_id: '4417' }, call_id: 't1' } },
  { say: 'Bye.' },
  { verb: 'end_call', args: { reason: 'done' } },
];

const FILE = testConfig({ agent: { persona: 'You are the FILE agent.' } });
const { id: _id, ...AGENT } = (FILE.agents as Record<string, unknown>[])[0]!;
void _id;

const ORDER_TOOL = {
  name: 'get_order_status',
  description: 'Order status by number.',
  side_effect: 'read',
  timeout_ms: 2000,
  parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  module: { module: './tools/get_order_status.js' },
};

async function start(): Promise<Harness> {
  return startHarness({
    configText: JSON.stringify(FILE),
    engine: { scenario: parseScenario({ name: 'live-config', steps: STEPS }), tts: toneVoice },
    human: { answer: 'answer', ringMs: 300, talkMs: 500 },
    env: { ADMIN_TOKEN: ADMIN, DATABASE_URL: db.url, SECRETS_KEY },
    secrets: [ADMIN, SECRETS_KEY],
  });
}

async function api(h: Harness, method: string, path: string, body?: unknown) {
  const r = await fetch(`${h.bridgeUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The tools a new call to AGENT_NUMBER gets on this replica now. */
const toolsOfNewCall = (h: Harness) => h.bridge.ctx.agentForNumber(AGENT_NUMBER).tools.map((t) => t.name);

/** Polls until `cond`; returns how long it took (printed, never asserted). */
async function until(cond: () => boolean, what: string): Promise<number> {
  const t0 = performance.now();
  await waitFor(cond, PROPAGATION_GUARD_MS, 5).catch(() => {
    throw new Error(`${what}: not seen within the ${PROPAGATION_GUARD_MS} ms hang guard`);
  });
  return performance.now() - t0;
}

/** Places a call on `h` and waits until its engine session has greeted; returns it with its engine record. */
async function placeCall(h: Harness) {
  const before = h.engine.sessions.length;
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: 40_000 });
  let spoke = false;
  call.on('timeline', (e: TimelineEntry) => {
    if (e.who === 'agent' && e.what === 'speaking') spoke = true;
  });
  await waitFor(() => spoke && h.engine.sessions.length > before, 15_000);
  return { call, engine: h.engine.sessions[before]! };
}

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([start(), start()]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await db?.drop();
});

describe('the database is the configuration for calls, on every replica', () => {
  it("an empty database leaves the file's agents; once agents are written through A, new calls on B take them", async () => {
    expect(b.bridge.ctx.agentForNumber(AGENT_NUMBER).persona).toContain('FILE');
    expect(b.logs.text()).toContain('the database holds no agent yet');
    expect((await api(a, 'POST', '/v1/tools', ORDER_TOOL)).status).toBe(201);
    expect(
      (await api(a, 'PUT', '/v1/agents/support', { ...AGENT, persona: 'You are the DATABASE agent.' })).status,
    ).toBe(201);
    expect((await api(a, 'PUT', `/v1/numbers/${encodeURIComponent(AGENT_NUMBER)}`, { agent: 'support' })).status).toBe(
      201,
    );
    expect(
      (await api(a, 'PUT', '/v1/agents/support/tools', [{ tool: 'get_order_status', enabled: true }])).status,
    ).toBe(200);
    const ms = await until(
      () => toolsOfNewCall(b).includes('get_order_status') && toolsOfNewCall(a).includes('get_order_status'),
      'the binding on replica B',
    );
    console.log(`[control plane] a binding written on A reached B's new calls after ${ms.toFixed(0)} ms`);
    expect(b.bridge.ctx.agentForNumber(AGENT_NUMBER).persona).toContain('DATABASE');

    // a real call on B runs the database's agent and its bound tool
    const { call, engine } = await placeCall(b);
    expect(engine.config?.persona).toContain('DATABASE');
    expect((engine.config?.tools as { name: string }[]).map((t) => t.name)).toEqual(['get_order_status']);
    call.sendDtmf('#');
    await call.done;
    expect(engine.toolResults).toEqual([
      { callId: 't1', name: 'get_order_status', output: expect.objectContaining({ status: 'shipped' }) },
    ]);
  }, 60_000);

  it('a binding disabled through A is gone from new calls on B (unknown_tool), while a call in progress on B keeps it', async () => {
    const running = await placeCall(b);
    expect((running.engine.config?.tools as { name: string }[]).map((t) => t.name)).toEqual(['get_order_status']);

    const off = await api(a, 'PUT', '/v1/agents/support/tools', [{ tool: 'get_order_status', enabled: false }]);
    expect(off.status).toBe(200);
    const ms = await until(() => !toolsOfNewCall(b).includes('get_order_status'), 'the disabled binding on B');
    console.log(`[control plane] a binding disabled on A left B's new calls after ${ms.toFixed(0)} ms`);

    // the call in progress still has the tool: its tool_call runs
    running.call.sendDtmf('#');
    await running.call.done;
    expect(running.engine.toolResults).toEqual([
      { callId: 't1', name: 'get_order_status', output: expect.objectContaining({ status: 'shipped' }) },
    ]);

    // a new call has no such tool: the engine is not told of it, and a tool_call for it is unknown_tool
    const fresh = await placeCall(b);
    expect(fresh.engine.config?.tools ?? []).toEqual([]);
    fresh.call.sendDtmf('#');
    await fresh.call.done;
    expect(fresh.engine.toolResults).toEqual([
      { callId: 't1', name: 'get_order_status', output: expect.objectContaining({ error: 'unknown_tool' }) },
    ]);
  }, 90_000);

  it('status: disabled on the tool leaves it out of new calls like a binding turned off, and active brings it back', async () => {
    expect(
      (await api(a, 'PUT', '/v1/agents/support/tools', [{ tool: 'get_order_status', enabled: true }])).status,
    ).toBe(200);
    await until(() => toolsOfNewCall(b).includes('get_order_status'), 'the binding enabled again on B');
    const tool = (await api(a, 'GET', '/v1/tools')).body.items as { id: string }[];
    expect((await api(a, 'PATCH', `/v1/tools/${tool[0]!.id}`, { status: 'disabled' })).status).toBe(200);
    await until(() => !toolsOfNewCall(b).includes('get_order_status'), 'the disabled tool on B');
    await until(() => !toolsOfNewCall(a).includes('get_order_status'), 'the disabled tool on A');
    expect((await api(a, 'PATCH', `/v1/tools/${tool[0]!.id}`, { status: 'active' })).status).toBe(200);
    await until(() => toolsOfNewCall(b).includes('get_order_status'), 'the tool active again on B');
  }, 30_000);

  it('a replica whose listening connection is cut reconnects and reloads: a change made meanwhile is not lost', async () => {
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      // cut every replica's LISTEN connection, then change the configuration at once
      const cut = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'omni-phone-bridge:listen'",
        [db.name],
      );
      expect(cut.rowCount).toBe(2);
    } finally {
      await admin.end();
    }
    expect(
      (await api(a, 'PUT', '/v1/agents/support', { ...AGENT, persona: 'You are the RECONNECTED agent.' })).status,
    ).toBe(200);
    await until(() => b.bridge.ctx.agentForNumber(AGENT_NUMBER).persona.includes('RECONNECTED'), 'the change on B');
    await until(() => b.logs.text().includes('the change feed listens again'), 'the reconnection logged');
  }, 30_000);
});
