import { z } from 'zod';

/**
 * Configuration of one MCP server of an agent (`agents[].mcp_servers[]`). Only the shape is checked
 * here; the URL's SSRF check and the secrets' presence are checked when the manager opens it.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const envName = z.string().regex(ENV_NAME, 'must be an environment variable name');
/** A tool name as the MCP server spells it (allow/deny lists match it before the prefix). */
const mcpToolName = z.string().min(1).max(128);

export const mcpAuthSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('bearer'), secret_env: envName }).strict(),
  z
    .object({
      kind: z.literal('oauth2_client_credentials'),
      token_url: z.string().min(1).max(2048),
      client_id_env: envName,
      client_secret_env: envName,
      scope: z.string().max(1024).optional(),
    })
    .strict(),
]);

export const mcpServerSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'lower-case letters, digits, _ and - (max 32), starting with a letter'),
    url: z.string().min(1).max(2048),
    transport: z.enum(['streamable_http', 'sse']).default('streamable_http'),
    auth: mcpAuthSchema.default({ kind: 'none' }),
    tools: z
      .object({
        /** only these tools (by the server's names); absent = all */
        allow: z.array(mcpToolName).max(1000).optional(),
        deny: z.array(mcpToolName).max(1000).default([]),
      })
      .strict()
      .prefault({}),
    /** prepended to every tool name the engine sees from this server */
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/, 'lower-case letters, digits and _ (max 32), starting with a letter')
      .optional(),
    timeout_ms: z.number().int().min(100).max(15000).default(5000),
    /** default for every tool of the server; `side_effects` overrides it per tool (server's names) */
    side_effect: z.enum(['read', 'action']).default('action'),
    side_effects: z.record(mcpToolName, z.enum(['read', 'action'])).default({}),
    /** how often the tool list is fetched again in the background */
    refresh_s: z.number().int().min(5).max(86400).default(300),
  })
  .strict();

export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type McpAuthConfig = z.infer<typeof mcpAuthSchema>;
