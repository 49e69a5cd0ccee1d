/**
 * The console's past-call review over its API (the page is console-browser.test.ts): a real call
 * with a tool whose arguments hold a full number and a secret, reviewed from the history; search by
 * time range, number suffix, agent, outcome and CallSid; bounded pages; and nothing the page can
 * receive holds a full number or a secret.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/call/record.js';
import { CALLER, janitor, startBridgeStack, SUPPORT_NUMBER } from '../helpers/bridge-stack.js';
import { consoleLogin } from '../helpers/console.js';
import { AUTH_TOKEN, waitFor } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('history admin');
const PYAI_KEY = 'pyai-key-for-history-test-5c2e';
const CALLBACK = '+15559876543';
const TOOL_SECRET = 'tool-arg-secret-value-91f0';

const j = janitor();
afterEach(() => j.closeAll());

const ORDER_TOOL = {
  name: 'get_order_status',
  description: 'Order status by number.',
  side_effect: 'read',
  timeout_ms: 2000,
  parameters: {
    type: 'object',
    properties: { order_id: { type: 'string' }, callback_number: { type: 'string' }, api_token: { type: 'string' } },
    required: ['order_id'],
    additionalProperties: false,
  },
  executor: { kind: 'module', module: './tools/get_order_status.js' },
};

/** A finished call's record, as the registry hands it to the history. */
function record(i: number, o: Partial<CallRecord> = {}): CallRecord {
  return {
    callSid: `CA${String(i).padStart(32, 'f')}`,
    agent: i % 2 ? 'support' : 'sales',
    from: `+1555123${String(i).padStart(4, '0')}`,
    to: SUPPORT_NUMBER,
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
    endedAt: new Date(Date.UTC(2026, 0, 1, 0, i, 30)).toISOString(),
    durationMs: 30_000,
    outcome: i % 3 ? 'caller_hangup' : 'transferred',
    streams: [],
    dtmf: '',
    bargeIns: 0,
    tools: [],
    verbs: i % 3 ? [] : [{ verb: 'transfer_to_human', result: 'started', atMs: 12_000 }],
    engineCloses: [],
    playback: { framesSent: 0, framesPlayed: 0, staleMarks: 0, clears: 0, underruns: 0, underrunMs: 0, replies: [] },
    ...o,
  };
}

describe('console: past-call review', () => {
  it("opens a past call's detail — transcript, tools with masked arguments and results, verbs, latency, outcome, dialed number, direction — and sends no full number or secret", async () => {
    const h = j.track(
      await startBridgeStack({
        env: { ADMIN_TOKEN: ADMIN, PYAI_API_KEY: PYAI_KEY },
        support: { tools: [ORDER_TOOL] },
        bridge: { call_record_transcript: true },
        steps: [
          { wait_for_caller: true, expect: 'Where is my order?', timeout_ms: 8000 },
          {
            tool_call: {
              name: 'get_order_status',
              arguments: { order_id: '4417', callback_number: CALLBACK, api_token: TOOL_SECRET },
              call_id: 'tool-1',
              say_template: 'Order {{order_id}} {{status}}.',
            },
          },
          { say: 'Goodbye.' },
          { verb: 'end_call', args: { reason: 'done' } },
        ],
      }),
    );
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 30_000,
      caller: [{ afterAgentSilenceMs: 300, say: 'Where is my order?' }],
    });
    await call.done;
    await waitFor(() => h.bridge.ctx.history.detail(call.callSid) !== undefined, 10_000);
    const { cookie } = await consoleLogin(h.bridgeUrl, ADMIN);
    const get = async (p: string) => {
      const r = await fetch(`${h.bridgeUrl}${p}`, { headers: { cookie } });
      return { status: r.status, text: await r.text() };
    };
    const list = await get(`/console/api/history?callSid=${call.callSid}`);
    const page = JSON.parse(list.text) as { scope: string; calls: { callSid: string }[]; total: number };
    expect(page.scope).toBe('replica');
    expect(page.calls.map((c) => c.callSid)).toEqual([call.callSid]);

    const res = await get(`/console/api/history/${call.callSid}`);
    expect(res.status).toBe(200);
    const d = (JSON.parse(res.text) as { call: Record<string, unknown> }).call;
    expect(d).toMatchObject({
      callSid: call.callSid,
      agent: 'support',
      caller: '•••4321',
      dialed: '•••1111',
      direction: 'inbound',
      outcome: 'agent_hangup',
    });
    expect(Date.parse(d.startedAt as string)).toBeLessThanOrEqual(Date.parse(d.endedAt as string));
    const tools = d.toolCalls as { name: string; outcome: string; args: string; result: string }[];
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({ name: 'get_order_status', outcome: 'ok' });
    expect(tools[0]!.args).toContain('4417');
    expect(tools[0]!.args).toContain('•••6543'); // the callback number, masked
    expect(tools[0]!.args).toContain('[secret]'); // a secret-named argument is never shown
    expect(tools[0]!.result).toContain('shipped');
    expect((d.verbs as { verb: string }[]).map((v) => v.verb)).toContain('end_call');
    const transcript = d.transcript as { role: string; text: string }[];
    expect(transcript.some((t) => t.role === 'user' && t.text.includes('Where is my order'))).toBe(true);
    const replies = d.replies as { firstFrameMs: number | null; voiceToVoiceMs: number | null }[];
    expect(replies.some((r) => typeof r.firstFrameMs === 'number')).toBe(true);
    expect(replies.some((r) => typeof r.voiceToVoiceMs === 'number')).toBe(true);

    expect((await get(`/console/api/history/CA${'0'.repeat(32)}`)).status).toBe(404);
    expect((await get('/console/api/history/not-a-sid')).status).toBe(404);
    expect((await fetch(`${h.bridgeUrl}/console/api/history/${call.callSid}`)).status).toBe(401);

    // Everything the page can receive here: no full number, no secret.
    const all = [list.text, res.text, (await get('/console/api/history')).text].join('\n');
    for (const secret of [ADMIN, AUTH_TOKEN, PYAI_KEY, TOOL_SECRET]) expect(all).not.toContain(secret);
    for (const n of [CALLER, CALLBACK, SUPPORT_NUMBER]) {
      expect(all).not.toContain(n);
      expect(all).not.toContain(n.slice(2));
    }
  }, 60_000);

  it('searches by time range, number suffix, agent, outcome and CallSid, newest first, in bounded pages', async () => {
    const h = j.track(await startBridgeStack({ env: { ADMIN_TOKEN: ADMIN } }));
    for (let i = 1; i <= 30; i++) h.bridge.ctx.history.add(record(i));
    const { cookie } = await consoleLogin(h.bridgeUrl, ADMIN);
    type Page = { calls: { callSid: string; startedAt: string }[]; total: number; offset: number; next: number | null };
    const q = async (query: string): Promise<Page> =>
      (await (await fetch(`${h.bridgeUrl}/console/api/history?${query}`, { headers: { cookie } })).json()) as Page;
    const idx = (p: Page) => p.calls.map((c) => Number(c.callSid.slice(-2).replace(/f/g, '')));

    const first = await q('limit=10');
    expect(first).toMatchObject({ total: 30, offset: 0, next: 10 });
    expect(idx(first)).toEqual([30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
    const last = await q('limit=10&offset=20');
    expect(idx(last)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(last.next).toBeNull();
    expect((await q('limit=100000')).calls).toHaveLength(30); // bounded: at most 100 a page
    for (let i = 31; i <= 150; i++) h.bridge.ctx.history.add(record(i));
    expect((await q('limit=100000')).calls).toHaveLength(100);
    expect((await q('')).calls).toHaveLength(25); // the default page

    // 00:05 to 00:10 (the end excluded): calls 5..9
    const range = await q(`since=${encodeURIComponent('2026-01-01T00:05:00Z')}&until=2026-01-01T00:10:00Z`);
    expect(idx(range)).toEqual([9, 8, 7, 6, 5]);
    expect(idx(await q('suffix=0007'))).toEqual([7]);
    expect(idx(await q(`callSid=CA${'f'.repeat(30)}12`))).toEqual([12]);
    const sales = await q('agent=sales&outcome=transferred&limit=100&until=2026-01-01T00:30:00Z');
    expect(idx(sales)).toEqual([24, 18, 12, 6]);

    const d = (await (
      await fetch(`${h.bridgeUrl}/console/api/history/CA${'f'.repeat(30)}12`, { headers: { cookie } })
    ).json()) as { call: { transfers: unknown[]; transcript: unknown; direction: string } };
    expect(d.call.transfers).toEqual([{ verb: 'transfer_to_human', result: 'started', atMs: 12_000 }]);
    expect(d.call.transcript).toBeNull(); // not recorded
    expect(d.call.direction).toBe('inbound'); // no Direction in the record: the dialed number is ours
  }, 60_000);
});
