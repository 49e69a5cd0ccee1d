import { Counter, Histogram, type Registry } from 'prom-client';
import { NO_CALL_LABELS, type CallLabels } from '../observability/call-labels.js';
import type { ToolObserver } from './types.js';

type ToolEvent = Parameters<ToolObserver['onToolFinished']>[0];

/** A tool label for anything not named in the agent's configuration. */
export const UNKNOWN_TOOL = '_unknown';

/** What names an agent's tools may carry as a label: its configured tools and MCP servers. */
export interface ToolNames {
  tools: readonly { name: string }[];
  mcp_servers: readonly { name: string }[];
}

/**
 * The `tool` label of a finished tool call: the tool's name if the agent's configuration defines
 * it; `mcp:<server>` for a tool of a configured MCP server (whose tool list the server, not the
 * file, decides); else `_unknown`. A name the engine made up never becomes a label value.
 */
export function toolLabel(agent: ToolNames, e: Pick<ToolEvent, 'tool' | 'executor' | 'server'>): string {
  if (e.executor === 'mcp')
    return e.server !== undefined && agent.mcp_servers.some((m) => m.name === e.server)
      ? `mcp:${e.server}`
      : UNKNOWN_TOOL;
  return agent.tools.some((t) => t.name === e.tool) ? e.tool : UNKNOWN_TOOL;
}

export interface ToolMetrics {
  /** `e.tool` must already be a label value (toolLabel); `call` is the call's agent and route */
  onToolFinished(e: ToolEvent, call?: CallLabels): void;
}

/**
 * Prometheus view of tool calls: count by outcome, errors by kind, latency, retries, each by the
 * call's agent and route. Names the engine invented (unknown_tool) are folded into one label value
 * so a hostile or confused engine cannot blow up label cardinality.
 */
export function createToolMetrics(register: Registry): ToolMetrics {
  const calls = reuse(
    register,
    'bridge_tool_calls_total',
    () =>
      new Counter({
        name: 'bridge_tool_calls_total',
        help: 'Tool calls answered, by tool and outcome',
        labelNames: ['agent', 'route', 'tool', 'outcome'],
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
        labelNames: ['agent', 'route', 'tool', 'kind'],
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
        labelNames: ['agent', 'route', 'tool'],
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
        labelNames: ['agent', 'route', 'tool'],
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
    onToolFinished({ tool, outcome, durationMs, retried, executor, server }, call: CallLabels = NO_CALL_LABELS) {
      if (executor === 'mcp' && server) mcpCalls.inc({ server, outcome });
      const labels = { agent: call.agent, route: call.route, tool: outcome === 'unknown_tool' ? UNKNOWN_TOOL : tool };
      calls.inc({ ...labels, outcome });
      if (outcome !== 'ok') errors.inc({ ...labels, kind: outcome });
      if (retried) retries.inc(labels);
      latency.observe(labels, durationMs / 1000);
    },
  };
}

function reuse<T>(register: Registry, name: string, make: () => T): T {
  return (register.getSingleMetric(name) as T | undefined) ?? make();
}
