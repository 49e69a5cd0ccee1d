import { describe, expect, it } from 'vitest';
import { CallHistory, percentile } from '../../../src/server/calls/history.js';
import { ConsoleSessions, readCookie, sameSecret } from '../../../src/console/auth.js';
import type { CallRecord } from '../../../src/call/record.js';

function record(i: number, o: Partial<CallRecord> & { v2v?: number[] } = {}): CallRecord {
  const { v2v = [], ...rest } = o;
  return {
    callSid: `CA${String(i).padStart(32, '0')}`,
    agent: 'support',
    from: `+1555000${String(i).padStart(4, '0')}`,
    to: '+15550001111',
    startedAt: new Date(0).toISOString(),
    endedAt: new Date(0).toISOString(),
    durationMs: 1000 * i,
    outcome: 'caller_hangup',
    streams: [],
    dtmf: '',
    bargeIns: 0,
    tools: [],
    verbs: [],
    engineCloses: [],
    playback: {
      framesSent: 0,
      framesPlayed: 0,
      staleMarks: 0,
      clears: 0,
      underruns: 0,
      underrunMs: 0,
      replies: v2v.map((v) => ({ voiceToVoiceMs: v, underruns: 0, underrunMs: 0 })),
    },
    ...rest,
  };
}

describe('the console history', () => {
  it('searches by outcome, agent and number suffix, newest first, without keeping full numbers', () => {
    const h = new CallHistory(10);
    h.add(record(1));
    h.add(record(2, { outcome: 'transferred' }));
    h.add(record(3, { agent: 'sales' }));
    expect(h.search({}).map((e) => e.callSid.slice(-1))).toEqual(['3', '2', '1']);
    expect(h.search({ outcome: 'transferred' })).toHaveLength(1);
    expect(h.search({ agent: 'sales' })).toHaveLength(1);
    expect(h.search({ suffix: '0002' }).map((e) => e.callSid.slice(-1))).toEqual(['2']);
    expect(h.search({ suffix: '2' }).map((e) => e.callSid.slice(-1))).toEqual(['2']);
    expect(JSON.stringify(h.search({}))).not.toMatch(/\+1555|15550/);
  });

  it("counts each tool's calls and failures over the calls that ended in the last hour (the tools page's numbers)", () => {
    const h = new CallHistory();
    const now = Date.parse('2026-12-07T12:00:00Z');
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    const tool = (name: string, outcome: string) => ({ name, outcome, durationMs: 10 });
    h.add(record(1, { endedAt: at(2 * 3_600_000), tools: [tool('lookup', 'ok'), tool('lookup', 'ok')] }));
    h.add(record(2, { endedAt: at(60_000), tools: [tool('lookup', 'ok'), tool('lookup', 'timeout')] }));
    h.add(record(3, { endedAt: at(1_000), tools: [tool('lookup', 'http_error'), tool('book', 'ok')] }));
    const u = h.toolUsage(now - 3_600_000);
    expect(Object.fromEntries(u)).toEqual({ lookup: { calls: 3, errors: 2 }, book: { calls: 1, errors: 0 } });
  });

  it('keeps the last N calls only', () => {
    const h = new CallHistory(5);
    for (let i = 0; i < 20; i++) h.add(record(i));
    expect(h.search({ limit: 100 })).toHaveLength(5);
  });

  it('counts, per agent, the calls started in the last hour and the engine reconnects', () => {
    const h = new CallHistory();
    const now = Date.parse('2026-12-07T12:00:00Z');
    const at = (msAgo: number) => new Date(now - msAgo).toISOString();
    h.add(record(1, { startedAt: at(2 * 3_600_000), engineCloses: [1006] }));
    h.add(record(2, { startedAt: at(59 * 60_000), engineCloses: [1006, 1011] }));
    h.add(record(3, { startedAt: at(1000) }));
    const [support] = h.summary(now);
    expect(support).toMatchObject({ agent: 'support', calls: 3, callsLastHour: 2, engineReconnects: 3 });
  });

  it('summarises each agent: calls, median duration, transfer rate, tool error rate, p50/p95 voice-to-voice', () => {
    const h = new CallHistory();
    h.add(record(1, { v2v: [500, 700], tools: [{ name: 't', outcome: 'ok', durationMs: 5 }] }));
    h.add(record(2, { outcome: 'transferred', v2v: [900], tools: [{ name: 't', outcome: 'timeout', durationMs: 5 }] }));
    h.add(record(3, { v2v: [1500] }));
    h.add(record(4, { agent: 'sales' }));
    const [sales, support] = h.summary();
    expect(sales).toMatchObject({ agent: 'sales', calls: 1, voiceToVoiceP50Ms: null });
    expect(support).toMatchObject({
      agent: 'support',
      calls: 3,
      medianDurationMs: 2000,
      toolErrorRate: 0.5,
      voiceToVoiceP50Ms: 700,
      voiceToVoiceP95Ms: 1500,
    });
    expect(support!.transferRate).toBeCloseTo(1 / 3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
  });
});

describe('console sessions and logins', () => {
  it('expires sessions and ignores unknown or oversized ids', () => {
    let now = 0;
    const s = new ConsoleSessions(1000, () => now);
    const a = s.create();
    expect(s.get(a.id)).toBe(a);
    expect(s.get('x'.repeat(200))).toBeUndefined();
    expect(s.get(`${a.id}x`)).toBeUndefined();
    now = 1000;
    expect(s.get(a.id)).toBeUndefined();
    expect(a.id).not.toBe(a.csrf);
    expect(a.id.length).toBeGreaterThanOrEqual(40);
  });

  it('tells of every session that ends, by logout, expiry or eviction (its event streams close then)', () => {
    let now = 0;
    const s = new ConsoleSessions(1000, () => now);
    const ended: string[] = [];
    s.onEnd = (id) => ended.push(id);
    const a = s.create();
    const b = s.create();
    s.end(a.id);
    s.end(a.id); // once
    now = 1000;
    expect(s.get(b.id)).toBeUndefined();
    expect(ended).toEqual([a.id, b.id]);
    now = 0;
    const first = s.create();
    for (let i = 0; i < 200; i++) s.create();
    expect(ended.at(-1)).toBe(first.id);
  });

  it('compares secrets of any length and reads one cookie', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abcd')).toBe(false);
    expect(readCookie('a=1; opb_console=xyz; b=2', 'opb_console')).toBe('xyz');
    expect(readCookie(undefined, 'opb_console')).toBeUndefined();
  });
});
