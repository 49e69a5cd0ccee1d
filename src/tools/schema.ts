import { z } from 'zod';
import type { ToolDefinition } from './types.js';
import { headerName, headerValue } from './header-rules.js';

/**
 * Configuration schema of one tool, embedded by the config module in each agent. Only the shape is
 * checked here; the JSON Schema itself is compiled (and its errors reported) by ToolRegistry.load.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

const envName = z.string().regex(ENV_NAME, 'must be an environment variable name');

export const httpExecutorSchema = z
  .object({
    kind: z.literal('http'),
    url: z.string().min(1).max(2048),
    method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
    auth_header: headerName.optional(),
    auth_secret_env: envName.optional(),
    // Every delivery is signed (X-Bridge-Signature): receivers can verify origin and reject replays.
    signing_secret_env: envName,
    headers: z.record(headerName, headerValue).optional(),
  })
  .strict()
  .refine((e) => (e.auth_header === undefined) === (e.auth_secret_env === undefined), {
    message: 'auth_header and auth_secret_env go together',
    path: ['auth_header'],
  })
  .refine(
    (e) =>
      !e.auth_header || !Object.keys(e.headers ?? {}).some((h) => h.toLowerCase() === e.auth_header!.toLowerCase()),
    {
      message: 'auth_header is also listed in headers',
      path: ['headers'],
    },
  );

export const moduleExecutorSchema = z
  .object({
    kind: z.literal('module'),
    module: z.string().min(1).max(1024),
    export: z
      .string()
      .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, 'must be an export name')
      .optional(),
  })
  .strict();

export const toolDefinitionSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be snake_case: a-z, 0-9, _ (max 64), starting with a letter'),
    description: z.string().trim().min(1).max(1024),
    parameters: z
      .record(z.string(), z.unknown())
      .refine((p) => p.type === 'object', 'must be a JSON Schema with "type": "object"'),
    timeout_ms: z.number().int().min(100).max(15000).default(5000),
    side_effect: z.enum(['read', 'action']),
    executor: z.discriminatedUnion('kind', [httpExecutorSchema, moduleExecutorSchema]),
  })
  .strict();

export type ToolDefinitionInput = z.input<typeof toolDefinitionSchema>;

// Compile-time guarantee that a parsed config entry is a ToolDefinition.
const _parsedIsDefinition = (d: z.output<typeof toolDefinitionSchema>): ToolDefinition => d;
void _parsedIsDefinition;

/** Tool names are unique per agent (the engine addresses tools by name). */
export function assertUniqueToolNames(tools: ReadonlyArray<{ name: string }>): void {
  const seen = new Set<string>();
  const dupes = new Set<string>();
  for (const t of tools) (seen.has(t.name) ? dupes : seen).add(t.name);
  if (dupes.size > 0) throw new Error(`duplicate tool name(s): ${[...dupes].join(', ')}`);
}
