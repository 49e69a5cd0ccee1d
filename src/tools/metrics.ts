import { Counter, Histogram, type Registry } from 'prom-client';
import type { ToolObserver } from './types.js';

/**
 * Prometheus view of tool calls: count by outcome, errors by kind, latency, retries. Names the
 * engine invented (unknown_tool) are folded into one label value so a hostile or confused engine
 * cannot blow up label cardinality.
 */
export function createToolMetrics(register: Registry): ToolObserver {
  const calls = reuse(
    register,
    'bridge_tool_calls_total',
    () =>
      new Counter({
        name: 'bridge_tool_calls_total',
        help: 'Tool calls answered, by tool and outcome',
        labelNames: ['tool', 'outcome'],
        registers: [register],
      }),
  );
  const errors = reuse(
    register,
    'bridge_tool_errors_total',
    () =>
      new Counter({
        name: 'bridge_tool_errors_total',
        help: 'Tool calls that did not succeed, by kind',
        labelNames: ['tool', 'kind'],
        registers: [register],
      }),
  );
  const retries = reuse(
    register,
    'bridge_tool_retries_total',
    () =>
      new Counter({
        name: 'bridge_tool_retries_total',
        help: 'Read tool calls retried once',
        labelNames: ['tool'],
        registers: [register],
      }),
  );
  const latency = reuse(
    register,
    'bridge_tool_duration_seconds',
    () =>
      new Histogram({
        name: 'bridge_tool_duration_seconds',
        help: 'Tool call duration from tool_call received to tool_result sent',
        labelNames: ['tool'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15],
        registers: [register],
      }),
  );

  const mcpCalls = reuse(
    register,
    'bridge_mcp_tool_calls_total',
    () =>
      new Counter({
        name: 'bridge_mcp_tool_calls_total',
        help: 'MCP tool calls answered, by server and outcome',
        labelNames: ['server', 'outcome'],
        registers: [register],
      }),
  );

  return {
    onToolFinished({ tool, outcome, durationMs, retried, executor, server }) {
      if (executor === 'mcp' && server) mcpCalls.inc({ server, outcome });
      const label = outcome === 'unknown_tool' ? '_unknown' : tool;
      calls.inc({ tool: label, outcome });
      if (outcome !== 'ok') errors.inc({ tool: label, kind: outcome });
      if (retried) retries.inc({ tool: label });
      latency.observe({ tool: label }, durationMs / 1000);
    },
  };
}

function reuse<T>(register: Registry, name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}
