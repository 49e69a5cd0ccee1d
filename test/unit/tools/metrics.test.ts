import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createToolMetrics, toolLabel } from '../../../src/tools/metrics.js';

describe('createToolMetrics', () => {
  it('counts calls by outcome, errors by kind, retries and latency, folding unknown names', async () => {
    const register = new Registry();
    const observer = createToolMetrics(register);
    observer.onToolFinished({ tool: 'get_order_status', outcome: 'ok', durationMs: 12, retried: true });
    observer.onToolFinished({ tool: 'get_order_status', outcome: 'timeout', durationMs: 5000, retried: false });
    observer.onToolFinished({ tool: 'drop_table_students', outcome: 'unknown_tool', durationMs: 0.1, retried: false });
    const text = await register.metrics();
    const call = 'agent="_unknown",route="_default"';
    expect(text).toContain(`bridge_tool_calls_total{${call},tool="get_order_status",outcome="ok"} 1`);
    expect(text).toContain(`bridge_tool_errors_total{${call},tool="get_order_status",kind="timeout"} 1`);
    expect(text).toContain(`bridge_tool_retries_total{${call},tool="get_order_status"} 1`);
    expect(text).toContain(`bridge_tool_calls_total{${call},tool="_unknown",outcome="unknown_tool"} 1`);
    expect(text).toContain(`bridge_tool_duration_seconds_bucket{le="5",${call},tool="get_order_status"} 2`);
    expect(text).not.toContain('drop_table_students');
    // A second observer on the same registry reuses the metrics instead of throwing.
    expect(() => createToolMetrics(register)).not.toThrow();
  });

  it("labels each call's agent and route, and a tool by its configured name only", async () => {
    const register = new Registry();
    const observer = createToolMetrics(register);
    const agent = { tools: [{ name: 'lookup' }], mcp_servers: [{ name: 'crm' }] };
    const call = { agent: 'support', route: 'support-line' };
    for (const e of [
      { tool: 'lookup', executor: 'module' },
      { tool: 'made_up_by_engine', executor: 'module' },
      { tool: 'anything_the_server_lists', executor: 'mcp', server: 'crm' },
      { tool: 'x', executor: 'mcp', server: 'not-configured' },
    ])
      observer.onToolFinished({ ...e, tool: toolLabel(agent, e), outcome: 'ok', durationMs: 1, retried: false }, call);
    const text = await register.metrics();
    for (const tool of ['lookup', '_unknown', 'mcp:crm'])
      expect(text).toContain(
        `bridge_tool_calls_total{agent="support",route="support-line",tool="${tool}",outcome="ok"}`,
      );
    expect(text).not.toMatch(/made_up_by_engine|anything_the_server_lists|tool="x"/);
  });
});
