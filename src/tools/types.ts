import type { TraceSpan } from '../observability/tracing.js';

/**
 * Tool runtime types. The runtime is transport-agnostic: nothing here knows about Twilio or the
 * Omni socket; CallSession hands tool calls in and gets `tool_result` outputs back via `send`.
 */

export type SideEffect = 'read' | 'action';

export interface HttpExecutorConfig {
  kind: 'http';
  url: string;
  method: 'POST' | 'PUT' | 'GET';
  /** Header name that carries the secret read from `auth_secret_env` (e.g. `Authorization`). */
  auth_header?: string;
  auth_secret_env?: string;
  /** Env var holding the per-tool HMAC secret for `X-Bridge-Signature`. */
  signing_secret_env?: string;
  headers?: Record<string, string>;
  /**
   * Set by the control plane only (the file's schema refuses it): the signing secret a rotation
   * replaced, which signs beside the new one until `previous_signing_until_ms` (docs/decisions.md).
   */
  previous_signing_secret_env?: string;
  previous_signing_until_ms?: number;
}

export interface ModuleExecutorConfig {
  kind: 'module';
  /** Path resolved relative to the config file's directory. */
  module: string;
  /** Named export holding the handler; `default` when omitted. */
  export?: string;
}

/** A tool discovered on an MCP server (never configured directly: see `mcp_servers`). */
export interface McpExecutorInfo {
  kind: 'mcp';
  /** The server's configured name. */
  server: string;
  /** The tool's name on that server (the engine sees it with the server's prefix). */
  tool: string;
}

export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
  timeout_ms: number;
  side_effect: SideEffect;
  executor: HttpExecutorConfig | ModuleExecutorConfig | McpExecutorInfo;
  /**
   * Set by the control plane only (the file's schema refuses it): the values of the agent's
   * binding of this tool, given to the tool with each call (`context.settings`).
   */
  settings?: Record<string, unknown>;
}

export interface ToolCallContext {
  callSid: string;
  agentId: string;
  from?: string;
  to?: string;
}

export type ToolOutcome =
  'ok' | 'unknown_tool' | 'invalid_arguments' | 'timeout' | 'tool_failed' | 'http_error' | 'blocked_url' | 'aborted';

export interface ToolObserver {
  onToolFinished(e: {
    tool: string;
    outcome: ToolOutcome;
    durationMs: number;
    retried: boolean;
    /** How the tool ran (`http`, `module`, `mcp`); absent for a tool the agent does not have. */
    executor?: string;
    /** The MCP server's name, for an MCP tool. */
    server?: string;
    /** the arguments and the result (or failure) as previewForPage shows them: masked, bounded */
    args?: string;
    result?: string;
  }): void;
}

/** What a module tool's handler receives as its second argument. */
export interface ModuleToolContext extends ToolCallContext {
  /** the binding's settings, when the tool comes from the control plane */
  settings?: Record<string, unknown>;
  /** The engine's tool call id. */
  toolCallId: string;
  /** Fires when the budget runs out or the phone call ends: stop the work. */
  signal: AbortSignal;
}

/** The shape a module tool exports: `(args, context) => result` (sync or async). */
export type ToolHandler = (args: Record<string, unknown>, context: ModuleToolContext) => unknown;

/** What an executor gets for one attempt. */
export interface ExecContext {
  toolCallId: string;
  context: ToolCallContext;
  signal: AbortSignal;
  /** the tool call's span, when the call is traced (a webhook's request is a child of it) */
  trace?: TraceSpan;
}

export type Executor = (args: Record<string, unknown>, ctx: ExecContext) => Promise<unknown>;

/** The engine-facing part of a definition (goes into `configure.tools`). */
export interface EngineToolDefinition {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}
