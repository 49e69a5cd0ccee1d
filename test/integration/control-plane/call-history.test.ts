/**
 * The fleet's call history (issue 30) with two bridge replicas on one database: both write their
 * finished calls and either one lists both; replica B's database cut in the middle of a call
 * (a TCP proxy between B and PostgreSQL) neither delays the call nor loses its record, which
 * arrives once the database is back; hostile query strings get a 422 each, counted, and change
 * nothing; no whole phone number is ever in an answer.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../../src/control-plane/pagination.js';
import type { TimelineEntry } from '../../../src/sim/twilio/index.js';
import { AGENT_NUMBER, CALLER_NUMBER, startControlStack, waitFor, type Harness } from '../../helpers/control.js';
import { consoleLogin } from '../../helpers/console.js';
import { metricValue } from '../../helpers/metrics.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { testToken } from '../../helpers/tokens.js';

const ADMIN = testToken('control plane call history');
const SECRETS_KEY = randomBytes(32).toString('base64');
let db: TestDatabase;
let proxy: TcpProxy;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await startTcpProxy(5432);
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  const steps = [
    { say: 'Hello, thanks for calling.', no_wait: true },
    { wait_for_caller: true, timeout_ms: 30_000 },
  ];
  const env = { ADMIN_TOKEN: ADMIN, SECRETS_KEY };
  [a, b] = await Promise.all([
    startControlStack({ steps, env: { ...env, DATABASE_URL: db.url, REPLICA_ID: 'replica-a' } }),
    startControlStack({ steps, env: { ...env, DATABASE_URL: viaProxy.toString(), REPLICA_ID: 'replica-b' } }),
  ]);
}, 40_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await proxy?.close();
  await db?.drop();
});

interface CallItem {
  call_sid: string;
  replica: string;
  agent: string;
  caller: string;
  dialed: string;
  outcome: string;
}

async function get(h: Harness, path: string, key: string | null = ADMIN) {
  const r = await fetch(`${h.bridgeUrl}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  const text = await r.text();
  return { status: r.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

/** A call to the agent that the caller ends after `ms`, once the agent spoke; resolves when it is over. */
async function callThat(h: Harness, ms: number, whileUp?: () => void): Promise<string> {
  const call = h.sim.placeCall({ to: AGENT_NUMBER, from: CALLER_NUMBER, maxDurationMs: ms });
  let speaking = false;
  call.on('timeline', (e: TimelineEntry) => {
    if (e.who === 'agent' && e.what === 'speaking') speaking = true;
  });
  await waitFor(() => speaking, 15_000);
  whileUp?.();
  await call.done;
  return call.callSid;
}

async function listedOn(h: Harness, sid: string): Promise<CallItem | undefined> {
  const r = await get(h, `/v1/calls?call_sid=${sid}`);
  return (r.body.items as CallItem[] | undefined)?.[0];
}

describe('call history for the whole fleet', () => {
  it('both replicas write their calls and one API lists both, masked, with the replica that had each', async () => {
    const [sa, sb] = await Promise.all([callThat(a, 2500), callThat(b, 2500)]);
    await waitFor(() => a.records.length === 1 && b.records.length === 1, 10_000);
    let items: CallItem[] = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && items.length < 2) {
      items = (await get(a, '/v1/calls')).body.items as CallItem[];
      if (items.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    expect(items.map((x) => [x.call_sid, x.replica]).sort()).toEqual(
      [
        [sa, 'replica-a'],
        [sb, 'replica-b'],
      ].sort(),
    );
    expect(items[0]).toMatchObject({ agent: 'support', caller: '•••4321', dialed: '•••1111' });
    // one call's record, read on the replica that did not have it
    const one = await get(a, `/v1/calls/${sb}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ call_sid: sb, replica: 'replica-b', record: { callSid: sb, agent: 'support' } });
    for (const r of [one.text, JSON.stringify(items)]) {
      expect(r).not.toContain(CALLER_NUMBER.slice(1));
      expect(r).not.toContain(AGENT_NUMBER.slice(1));
    }
    // a viewer key reads it; no key does not
    const viewer = (await (
      await fetch(`${a.bridgeUrl}/v1/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'wallboard', role: 'viewer' }),
      })
    ).json()) as { secret: string };
    expect((await get(b, '/v1/calls', viewer.secret)).status).toBe(200);
    expect((await get(b, `/v1/calls/${sa}`, viewer.secret)).status).toBe(200);
    expect((await get(b, '/v1/calls', null)).status).toBe(401);
    expect((await get(b, `/v1/calls/${sa}`, `${viewer.secret}x`)).status).toBe(401);
  }, 60_000);

  it("the console's history on one replica shows the other replica's calls, and a past call's review", async () => {
    const sid = await callThat(b, 2000);
    await waitFor(() => b.records.some((r) => r.callSid === sid), 10_000);
    const { cookie } = await consoleLogin(a.bridgeUrl, ADMIN);
    const read = async (path: string) => {
      const r = await fetch(`${a.bridgeUrl}${path}`, { headers: { cookie } });
      return { status: r.status, text: await r.text() };
    };
    let page: { scope: string; calls: { callSid: string; caller: string }[]; total: number; summary: unknown[] } = {
      scope: '',
      calls: [],
      total: 0,
      summary: [],
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !page.calls.some((c) => c.callSid === sid)) {
      page = JSON.parse((await read('/console/api/history?limit=100')).text) as typeof page;
      if (!page.calls.some((c) => c.callSid === sid)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(page.scope).toBe('fleet');
    expect(page.calls.find((c) => c.callSid === sid)).toMatchObject({ caller: '•••4321' });
    expect(page.summary).toEqual([expect.objectContaining({ agent: 'support', calls: page.total })]);
    // the console's filters read the table: the caller's last digits, the CallSid
    const bySuffix = JSON.parse((await read('/console/api/history?suffix=4321')).text) as typeof page;
    expect(bySuffix.total).toBe(page.total);
    const none = JSON.parse((await read('/console/api/history?suffix=9999')).text) as typeof page;
    expect(none.total).toBe(0);
    const review = await read(`/console/api/history/${sid}`);
    expect(review.status).toBe(200);
    expect(JSON.parse(review.text)).toMatchObject({ scope: 'fleet', call: { callSid: sid, agent: 'support' } });
    expect(review.text).not.toContain(CALLER_NUMBER.slice(1));
    expect((await read(`/console/api/history/CA${'0'.repeat(32)}`)).status).toBe(404);
  }, 60_000);

  it('the database lost in the middle of a call: the call ends as usual, and its record arrives when the database is back', async () => {
    const before = a.records.length + b.records.length;
    const sid = await callThat(b, 3000, () => proxy.cut());
    // the call ended while the database was gone: its record is in B's buffer, not in the table
    await waitFor(() => b.records.some((r) => r.callSid === sid), 10_000);
    expect(b.records.find((r) => r.callSid === sid)!.outcome).not.toMatch(/shutdown|engine/);
    expect(await metricValue(b.bridge, 'bridge_call_records_buffered')).toBe(1);
    expect(await listedOn(a, sid)).toBeUndefined();
    // B tried, failed, and keeps the record for the next try
    let failures = 0;
    const tried = Date.now() + 10_000;
    while (Date.now() < tried && failures === 0) {
      failures = await metricValue(b.bridge, 'bridge_call_record_write_failures_total');
      if (failures === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(failures).toBeGreaterThan(0);
    expect(await metricValue(b.bridge, 'bridge_call_records_buffered')).toBe(1);
    expect(await listedOn(a, sid)).toBeUndefined();
    // B's console meanwhile shows B's own calls, and says that is all it shows
    const { cookie } = await consoleLogin(b.bridgeUrl, ADMIN);
    const own = (await (
      await fetch(`${b.bridgeUrl}/console/api/history?callSid=${sid}`, { headers: { cookie } })
    ).json()) as { scope: string; calls: { callSid: string }[] };
    expect(own).toMatchObject({ scope: 'replica', calls: [{ callSid: sid }] });
    proxy.restore();
    const deadline = Date.now() + 20_000;
    let item: CallItem | undefined;
    while (Date.now() < deadline && !item) {
      item = await listedOn(a, sid);
      if (!item) await new Promise((r) => setTimeout(r, 200));
    }
    expect(item).toMatchObject({ call_sid: sid, replica: 'replica-b' });
    expect(await metricValue(b.bridge, 'bridge_call_records_dropped_total')).toBe(0);
    expect(await metricValue(b.bridge, 'bridge_call_records_buffered')).toBe(0);
    expect(a.records.length + b.records.length).toBe(before + 1);
  }, 60_000);

  it('answers a hostile query string with a 422 naming what is wrong, counts it, and the history is intact', async () => {
    const counted = () =>
      metricValue(a.bridge, 'bridge_webhook_rejected_total', { route: 'v1', reason: 'invalid_query' });
    const start = await counted();
    const total = ((await get(a, '/v1/calls?limit=500')).body.items as unknown[]).length;
    const hostile: [string, RegExp][] = [
      ['limit=0', /^limit/],
      ['limit=501', /^limit/],
      ['limit=abc', /^limit/],
      ['limit=1&limit=2', /^limit/],
      ['cursor=garbage', /^cursor/],
      [`cursor=${encodeCursor(5)}`, /^cursor/],
      [`cursor=${encodeCursor("2026-01-01T00:00:00.000Z CA' OR 1=1--")}`, /^cursor/],
      [`cursor=${'A'.repeat(600)}`, /^cursor/],
      ['since=yesterday', /^since/],
      ['since=2026-01-01T00:00:00', /^since/],
      ['since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z', /^until: the range is empty/],
      ['since=2026-02-01T00:00:00Z&until=2026-02-01T00:00:00Z', /^until: the range is empty/],
      ["agent=' OR '1'='1", /^agent/],
      ['agent=a%00b', /^agent/],
      [`agent=${'a'.repeat(65)}`, /^agent/],
      ['agent=support&agent=sales', /^agent/],
      ['agnet=support', /agnet/],
      ['call_sid[]=CA1', /call_sid\[\]/],
      ['__proto__=x', /__proto__/],
      ['number=12', /^number/],
      ['number=abcd', /^number/],
      [`number=${'1'.repeat(40)}`, /^number/],
      ['transport=pstn', /^transport/],
      ['outcome=DROP%20TABLE%20call_records', /^outcome/],
    ];
    for (const [q, issue] of hostile) {
      const r = await get(a, `/v1/calls?${q}`);
      expect({ q, status: r.status, error: r.body.error }).toEqual({ q, status: 422, error: 'invalid_query' });
      expect(
        (r.body.issues as string[]).some((l) => issue.test(l)),
        `${q}: ${JSON.stringify(r.body.issues)}`,
      ).toBe(true);
    }
    expect((await counted()) - start).toBe(hostile.length);
    for (const sid of ["CA' OR '1'='1", 'x'.repeat(65), '..%2F..%2Fetc', '%00']) {
      const r = await get(a, `/v1/calls/${encodeURIComponent(sid)}`);
      expect(r.status).toBe(404);
    }
    // a number filter matches on the last four digits, of a whole number or of the digits alone
    for (const n of [encodeURIComponent(CALLER_NUMBER), '4321', '%2B1%20(555)%20765-4321']) {
      expect(((await get(a, `/v1/calls?number=${n}`)).body.items as unknown[]).length).toBe(total);
    }
    expect(((await get(a, '/v1/calls?number=9999')).body.items as unknown[]).length).toBe(0);
    expect(((await get(a, '/v1/calls?limit=500')).body.items as unknown[]).length).toBe(total);
    // the refusals did not make a valid key's request 429
    expect((await get(a, '/v1/calls')).status).toBe(200);
  }, 60_000);
});
