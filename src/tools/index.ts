/** Public surface of the tool runtime (CallSession, config loader, metrics, webhook receivers). */
export type {
  SideEffect,
  ToolDefinition,
  HttpExecutorConfig,
  ModuleExecutorConfig,
  ToolCallContext,
  ToolOutcome,
  ToolObserver,
  ToolHandler,
  ModuleToolContext,
  EngineToolDefinition,
} from './types.js';
export { toolDefinitionSchema, assertUniqueToolNames, type ToolDefinitionInput } from './schema.js';
export { ToolRegistry, type RegistryOptions, type RegisteredTool, type ValidationDetail } from './registry.js';
export { ToolRuntime, DEFAULT_CEILING_MS, type ToolRuntimeOptions, type IncomingToolCall } from './runtime.js';
export { truncateOutput, MAX_OUTPUT_BYTES } from './truncate.js';
export { verifyBridgeSignature, signBridgePayload, SIGNATURE_HEADER, type VerifyResult } from './signing.js';
export { createToolMetrics } from './metrics.js';
