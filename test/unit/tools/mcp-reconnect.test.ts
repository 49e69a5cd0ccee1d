/**
 * The MCP connection's reconnect decision (src/tools/mcp/reconnect.ts) with plain numbers: the
 * engine link's shape (history in, decision and next history out), never giving up.
 */
import { describe, expect, it } from 'vitest';
import { decideMcpReconnect, MCP_UP, type McpReconnectHistory } from '../../../src/tools/mcp/reconnect.js';

describe('the MCP reconnect decision', () => {
  it('doubles from 250 ms up to 30 s, and never gives up', () => {
    let h: McpReconnectHistory = MCP_UP;
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      const d = decideMcpReconnect(h, undefined, 0.5); // 0.5: no jitter (×1.0)
      expect(d.kind).toBe('retry');
      delays.push(Math.round(d.delayMs));
      h = d.history;
    }
    expect(delays).toEqual([250, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
    expect(h).toEqual({ attempt: 12 });
  });

  it('jitters by ±20 %, and starts again from its first pause once the server was up', () => {
    const h = { attempt: 2 };
    expect(decideMcpReconnect(h, { initialMs: 100, maxMs: 10_000 }, 0).delayMs).toBeCloseTo(320);
    expect(decideMcpReconnect(h, { initialMs: 100, maxMs: 10_000 }, 0.999_999).delayMs).toBeCloseTo(480);
    expect(decideMcpReconnect(MCP_UP, { initialMs: 100, maxMs: 10_000 }, 0.5).delayMs).toBe(100);
  });

  it('keeps a huge attempt count finite (the exponent stops at 16)', () => {
    const d = decideMcpReconnect({ attempt: 10_000 }, { initialMs: 1, maxMs: Number.POSITIVE_INFINITY }, 0.5);
    expect(d.delayMs).toBe(2 ** 16);
  });
});
