/**
 * When a lost MCP session is tried again: a pure function of the connection's history (and a
 * jitter draw), in the shape of the engine link's decision (src/call/reconnect.ts) — history in,
 * a decision and the next history out. An MCP server is shared by every call of its agent and
 * its tools are only withdrawn while it is down, so it is never given up: exponential backoff
 * from `initialMs`, capped at `maxMs`, ±20 % jitter so that replicas do not retry in step.
 */

export interface McpReconnectPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_MCP_RECONNECT: McpReconnectPolicy = { initialMs: 250, maxMs: 30_000 };

export interface McpReconnectHistory {
  /** attempts since the session was last up */
  readonly attempt: number;
}

export const MCP_UP: McpReconnectHistory = { attempt: 0 };

export type McpReconnectDecision = { kind: 'retry'; delayMs: number; history: McpReconnectHistory };

/** The session was lost: try again after `delayMs`. `jitter` is a draw in [0, 1) (Math.random()). */
export function decideMcpReconnect(
  history: McpReconnectHistory,
  policy: McpReconnectPolicy = DEFAULT_MCP_RECONNECT,
  jitter: number = Math.random(),
): McpReconnectDecision {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(history.attempt, 16));
  return { kind: 'retry', delayMs: base * (0.8 + jitter * 0.4), history: { attempt: history.attempt + 1 } };
}
