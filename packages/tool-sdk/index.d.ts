/** The header that carries the bridge's signature of a webhook tool call. */
export declare const SIGNATURE_HEADER: 'X-Bridge-Signature';
export declare const DEFAULT_TOLERANCE_SEC: number;

/** Who and where a tool call comes from. `from`/`to` are the call's numbers (mind where you log them). */
export interface ToolCallContext {
  callSid: string;
  agentId: string;
  from?: string;
  to?: string;
}

/** What a module tool's handler receives as its second argument. */
export interface ToolContext extends ToolCallContext {
  /** the engine's tool call id (stable across retries of one call) */
  toolCallId: string;
  /** aborts when the tool's timeout passes or the phone call ends: stop the work */
  signal: AbortSignal;
}

/** Any JSON-serialisable value: what the agent reads as the tool's result. */
export type ToolResult = string | number | boolean | null | ToolResult[] | { [key: string]: ToolResult | undefined };

export type ToolHandler<A extends Record<string, unknown> = Record<string, unknown>, R = ToolResult> = (
  args: A,
  context: ToolContext,
) => R | Promise<R>;

/** The JSON body the bridge POSTs to a webhook tool. */
export interface WebhookToolCall<A extends Record<string, unknown> = Record<string, unknown>> {
  /** the engine's tool call id */
  call_id: string;
  /** the tool's name */
  name: string;
  arguments: A;
  context: { call_sid: string; agent_id: string; from: string | null; to: string | null };
}

export type VerifyResult = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

export interface VerifyInput {
  /** the X-Bridge-Signature header (node gives string | string[] | undefined) */
  header: string | string[] | undefined | null;
  /** the body exactly as received, before any JSON parsing */
  rawBody: string | Uint8Array;
  secret: string;
  /** maximum age and future skew accepted, in seconds (300) */
  toleranceSec?: number;
  nowSec?: number;
}

export declare function verifyBridgeSignature(input: VerifyInput): VerifyResult;
export declare function signBridgePayload(secret: string, rawBody: string | Uint8Array, nowSec?: number): string;
export declare function defineTool<A extends Record<string, unknown> = Record<string, unknown>, R = ToolResult>(
  handler: ToolHandler<A, R>,
): ToolHandler<A, R>;
