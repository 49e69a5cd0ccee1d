import { z } from 'zod';
import { MIN_PASSED_SECRET_LENGTH } from '../config/loader.js';
import { HEADER_VALUE, headerName, headerValue } from '../tools/header-rules.js';

/**
 * The body of POST /v1/tools (and, merged with the stored tool, of PATCH): the API's own tool
 * schema (the OpenAPI document's), not the file's `executor` block. Unknown keys are refused with
 * their path. Exactly one executor: `webhook`, `module` or `mcp`. Secrets (`auth_secret`, an MCP
 * bearer `token` or OAuth `client_secret`) are write-only: sealed at rest, never answered.
 */

// At least the length the runtime requires of a credential passed on (MIN_PASSED_SECRET_LENGTH):
// a shorter one stored here would make every replica refuse the database's configuration.
const secret = z
  .string()
  .min(MIN_PASSED_SECRET_LENGTH, `must be at least ${MIN_PASSED_SECRET_LENGTH} characters`)
  .max(4096)
  .regex(HEADER_VALUE, 'must not contain control characters');
const url = z.string().min(1).max(2048);

export const webhookSchema = z
  .object({
    url,
    method: z.enum(['POST', 'PUT', 'GET']).default('POST'),
    auth_header: headerName.optional(),
    /** write-only; omitted on an update: the stored one is kept */
    auth_secret: secret.optional(),
    headers: z.record(headerName, headerValue).optional(),
  })
  .strict()
  .refine((w) => w.auth_secret === undefined || w.auth_header !== undefined, {
    message: 'auth_secret needs auth_header (the header it is sent in)',
    path: ['auth_header'],
  });

export const moduleSchema = z
  .object({
    module: z.string().min(1).max(1024),
    export: z
      .string()
      .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, 'must be an export name')
      .optional(),
  })
  .strict();

const mcpToolName = z.string().min(1).max(128);
export const mcpSchema = z
  .object({
    url,
    transport: z.enum(['streamable_http', 'sse']).default('streamable_http'),
    auth: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('none') }).strict(),
        z.object({ kind: z.literal('bearer'), token: secret.optional() }).strict(),
        z
          .object({
            kind: z.literal('oauth2_client_credentials'),
            token_url: url,
            client_id: z.string().min(1).max(512),
            client_secret: secret.optional(),
            scope: z.string().max(1024).optional(),
          })
          .strict(),
      ])
      .default({ kind: 'none' }),
    allow: z.array(mcpToolName).max(1000).optional(),
    deny: z.array(mcpToolName).max(1000).optional(),
    prefix: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/, 'lower-case letters, digits and _ (max 32), starting with a letter')
      .optional(),
  })
  .strict();

export const toolBodySchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be snake_case: a-z, 0-9, _ (max 64), starting with a letter'),
    description: z.string().trim().min(1).max(1024),
    parameters: z
      .record(z.string(), z.unknown())
      .refine((p) => p.type === 'object', 'must be a JSON Schema with "type": "object"')
      .optional(),
    side_effect: z.enum(['read', 'action']),
    timeout_ms: z.number().int().min(100).max(15000).default(5000),
    status: z.enum(['active', 'disabled']).optional(),
    webhook: webhookSchema.optional(),
    module: moduleSchema.optional(),
    mcp: mcpSchema.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    const kinds = (['webhook', 'module', 'mcp'] as const).filter((k) => b[k] !== undefined);
    if (kinds.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: kinds.length ? [kinds[1]!] : [],
        message: `exactly one executor is needed: webhook, module or mcp (got ${kinds.length ? kinds.join(', ') : 'none'})`,
      });
    if (b.parameters === undefined && b.mcp === undefined)
      ctx.addIssue({ code: 'custom', path: ['parameters'], message: 'is required for webhook and module tools' });
  });

export type ToolBody = z.output<typeof toolBodySchema>;
export type ToolBodyInput = z.input<typeof toolBodySchema>;
export type ToolKind = 'webhook' | 'module' | 'mcp';

/** PATCH: any of the fields; the executor, when given, replaces the stored one whole (its secret kept when omitted). */
export const toolPatchSchema = z
  .object({
    description: z.unknown().optional(),
    parameters: z.unknown().optional(),
    side_effect: z.unknown().optional(),
    timeout_ms: z.unknown().optional(),
    status: z.enum(['active', 'disabled']).optional(),
    webhook: z.unknown().optional(),
    module: z.unknown().optional(),
    mcp: z.unknown().optional(),
  })
  .strict();

export const rotateBodySchema = z
  .object({
    /** how long the replaced signing secret still signs deliveries beside the new one (default 24 h, at most 7 days) */
    grace_s: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .default(86400),
  })
  .strict();

export function kindOf(b: ToolBody): ToolKind {
  return b.webhook ? 'webhook' : b.module ? 'module' : 'mcp';
}
