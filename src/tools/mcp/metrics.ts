import { Counter, Gauge, type Registry } from 'prom-client';

/** What the MCP layer counts; a no-op without a registry (tests, scripts). */
export interface McpMetrics {
  /** A tool or a message refused from a server (bad name, bad schema, over a bound, ...). */
  rejected(agent: string, server: string, reason: string): void;
  /** A connection attempt failed or a session was lost. */
  connectFailures(agent: string, server: string): void;
  up(agent: string, server: string, up: boolean): void;
}

export const noMcpMetrics: McpMetrics = { rejected() {}, connectFailures() {}, up() {} };

/** Labels are configured names (agent, server) and fixed reasons: bounded cardinality. */
export function createMcpMetrics(register: Registry): McpMetrics {
  const reuse = <T>(name: string, make: () => T): T => (register.getSingleMetric(name) as T | undefined) ?? make();
  const rejected = reuse(
    'bridge_mcp_rejected_total',
    () =>
      new Counter({
        name: 'bridge_mcp_rejected_total',
        help: 'Tools or messages refused from MCP servers, by reason',
        labelNames: ['agent', 'server', 'reason'],
        registers: [register],
      }),
  );
  const failures = reuse(
    'bridge_mcp_connect_failures_total',
    () =>
      new Counter({
        name: 'bridge_mcp_connect_failures_total',
        help: 'MCP sessions that could not be opened or were lost',
        labelNames: ['agent', 'server'],
        registers: [register],
      }),
  );
  const up = reuse(
    'bridge_mcp_server_up',
    () =>
      new Gauge({
        name: 'bridge_mcp_server_up',
        help: '1 while the MCP session is open and its tools are listed',
        labelNames: ['agent', 'server'],
        registers: [register],
      }),
  );
  return {
    rejected: (agent, server, reason) => rejected.inc({ agent, server, reason }),
    connectFailures: (agent, server) => failures.inc({ agent, server }),
    up: (agent, server, isUp) => up.set({ agent, server }, isUp ? 1 : 0),
  };
}
