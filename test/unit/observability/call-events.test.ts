import { describe, expect, it } from 'vitest';
import { CallFeedHub, LEVEL_PROBES, LevelMeter, type FeedEvent } from '../../../src/observability/call-events.js';
import { maskNumber } from '../../../src/observability/redact.js';
import { encodeMulaw } from '../../../src/audio/mulaw.js';

/** A μ-law chunk whose byte reads are counted: what the level meter costs per frame. */
function countedChunk(n: number, byte: number): { chunk: ArrayLike<number>; reads: () => number } {
  let reads = 0;
  const target: Record<string | symbol, unknown> = { length: n };
  const chunk = new Proxy(target, {
    get(t, key) {
      if (typeof key === 'string' && /^\d+$/.test(key)) {
        reads++;
        return byte;
      }
      return t[key];
    },
  }) as unknown as ArrayLike<number>;
  return { chunk, reads: () => reads };
}

describe('the console level meter', () => {
  it('reads a fixed number of bytes per chunk whatever its size (O(1) per frame)', () => {
    for (const n of [1, 160, 1600, 16_000]) {
      const m = new LevelMeter();
      const c = countedChunk(n, 0x80);
      m.add(c.chunk);
      expect(c.reads()).toBeLessThanOrEqual(LEVEL_PROBES);
      expect(m.take()).toBeGreaterThan(0.9); // 0x80 is μ-law's loudest positive sample
    }
  });

  it('holds the peak between samples and resets on take', () => {
    const m = new LevelMeter();
    const loud = encodeMulaw(new Int16Array(160).fill(16_000));
    const quiet = encodeMulaw(new Int16Array(160).fill(100));
    m.add(quiet);
    m.add(loud);
    m.add(quiet);
    expect(m.take()).toBeCloseTo(16_000 / 32768, 1);
    expect(m.take()).toBe(0);
    m.add(encodeMulaw(new Int16Array(160)));
    expect(m.take()).toBe(0);
  });
});

describe('the live call feed', () => {
  it('masks the caller to the last four digits and redacts digit runs in transcript lines', () => {
    expect(maskNumber('+15557654321')).toBe('•••4321');
    expect(maskNumber(undefined)).toBe('•••');
    const hub = new CallFeedHub();
    const seen: FeedEvent[] = [];
    const stop = hub.subscribe((e) => seen.push(e));
    const feed = hub.open({ callSid: 'CA1', agent: 'support', from: '+15557654321' }, () => 'listening');
    feed.transcript('user', 'my card is 4111 1111 1111 1111 thanks');
    const text = JSON.stringify(seen);
    expect(text).not.toContain('15557654321');
    expect(text).not.toContain('4111');
    expect(text).toContain('•••4321');
    stop();
    hub.stop();
  });

  it('hides DTMF digits while a collect runs and shows them otherwise', () => {
    const hub = new CallFeedHub();
    const feed = hub.open({ callSid: 'CA2', agent: 'support' }, () => 'listening');
    feed.dtmf('7', true);
    feed.dtmf('3', false);
    const entries = feed.history().filter((e) => e.kind === 'timeline');
    expect(entries.map((e) => (e as { name: string }).name)).toEqual(['•', '3']);
  });

  it('samples state and levels only while someone watches, and publishes state changes once', async () => {
    const hub = new CallFeedHub(20);
    let state: 'listening' | 'agent_speaking' = 'listening';
    const feed = hub.open({ callSid: 'CA3', agent: 'support' }, () => state);
    expect(feed.watched).toBe(false);
    const seen: FeedEvent[] = [];
    const stop = hub.subscribe((e) => seen.push(e));
    expect(feed.watched).toBe(true);
    await waitUntil(() => seen.some((e) => e.kind === 'state' && e.state === 'listening'));
    state = 'agent_speaking';
    await waitUntil(() => seen.some((e) => e.kind === 'state' && e.state === 'agent_speaking'));
    await waitUntil(() => seen.filter((e) => e.kind === 'levels').length >= 3);
    expect(seen.filter((e) => e.kind === 'state')).toHaveLength(2);
    stop();
    expect(feed.watched).toBe(false);
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(count); // no timer, no sampling once nobody watches
    hub.stop();
  });

  it('keeps a bounded backlog for a detail view opened late', () => {
    const hub = new CallFeedHub();
    const feed = hub.open({ callSid: 'CA4', agent: 'support' }, () => 'listening');
    for (let i = 0; i < 1000; i++) feed.timeline('verb', 'status', String(i));
    expect(feed.history().length).toBeLessThanOrEqual(400);
    expect((feed.history().at(-1) as { result: string }).result).toBe('999');
  });
});

async function waitUntil(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}
