import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createToolMetrics } from '../../../src/tools/metrics.js';

describe('createToolMetrics', () => {
  it('counts calls by outcome, errors by kind, retries and latency, folding unknown names', async () => {
    const register = new Registry();
    const observer = createToolMetrics(register);
    observer.onToolFinished({ tool: 'get_order_status', outcome: 'ok', durationMs: 12, retried: true });
    observer.onToolFinished({ tool: 'get_order_status', outcome: 'timeout', durationMs: 5000, retried: false });
    observer.onToolFinished({ tool: 'drop_table_students', outcome: 'unknown_tool', durationMs: 0.1, retried: false });
    const text = await register.metrics();
    expect(text).toContain('bridge_tool_calls_total{tool="get_order_status",outcome="ok"} 1');
    expect(text).toContain('bridge_tool_errors_total{tool="get_order_status",kind="timeout"} 1');
    expect(text).toContain('bridge_tool_retries_total{tool="get_order_status"} 1');
    expect(text).toContain('bridge_tool_calls_total{tool="_unknown",outcome="unknown_tool"} 1');
    expect(text).toContain('bridge_tool_duration_seconds_bucket{le="5",tool="get_order_status"} 2');
    expect(text).not.toContain('drop_table_students');
    // A second observer on the same registry reuses the metrics instead of throwing.
    expect(() => createToolMetrics(register)).not.toThrow();
  });
});
