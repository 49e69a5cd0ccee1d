import { Ajv, type ValidateFunction } from 'ajv';
import type { ValidationDetail } from '../registry.js';
import type { SideEffect } from '../types.js';
import type { McpServerConfig } from './schema.js';

/** At most this many tools are taken from one server; the rest are refused and counted. */
export const MAX_TOOLS_PER_SERVER = 128;
/** At most this many bytes of tool list (all pages, as JSON) are read from one server. */
export const MAX_LIST_BYTES = 1024 * 1024;
/** At most this many pages of `tools/list` are followed. */
export const MAX_LIST_PAGES = 32;
const MAX_DESCRIPTION = 1024;
/** A name the server uses (allow/deny match it), and the name the engine sees (prefix + name). */
const SERVER_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const EXPOSED_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export type RejectReason =
  'bad_name' | 'bad_schema' | 'too_many' | 'list_too_large' | 'collision' | 'duplicate' | 'not_a_tool';

export interface McpToolEntry {
  /** The name the engine sees: prefix + the server's name. */
  readonly exposed: string;
  /** The server's own name, used in `tools/call`. */
  readonly original: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
  readonly sideEffect: SideEffect;
  validate(args: unknown): ValidationDetail[] | null;
}

export interface Rejection {
  tool: string;
  reason: RejectReason;
}

/** A name from a hostile server, made safe and short for a log line. */
export function printable(name: unknown): string {
  const s = typeof name === 'string' ? name : (JSON.stringify(name) ?? String(name));
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Schemas come from someone else's server: Ajv is lenient about keywords it does not know. */
export function createMcpAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, validateFormats: false, logger: false });
}

/**
 * Turns a server's raw tool list into the tools an agent may use: allow/deny applied on the
 * server's names, the prefix added, and each entry checked (a name the engine can carry, an input
 * schema that is a JSON Schema object, no clash with a configured tool, a verb or another server).
 * Anything refused is returned with its reason so the caller can log and count it.
 */
export function acceptTools(
  raw: readonly unknown[],
  cfg: McpServerConfig,
  reserved: ReadonlySet<string>,
): { tools: McpToolEntry[]; rejected: Rejection[] } {
  // A fresh compiler per listing: a schema's `$id` seen in the last listing is not a clash.
  const ajv = createMcpAjv();
  const tools: McpToolEntry[] = [];
  const rejected: Rejection[] = [];
  const seen = new Set<string>();
  const allow = cfg.tools.allow ? new Set(cfg.tools.allow) : undefined;
  const deny = new Set(cfg.tools.deny);
  for (const t of raw) {
    if (!isPlainObject(t)) {
      rejected.push({ tool: printable(t), reason: 'not_a_tool' });
      continue;
    }
    const name = t.name;
    if (typeof name !== 'string' || !SERVER_NAME.test(name)) {
      rejected.push({ tool: printable(name), reason: 'bad_name' });
      continue;
    }
    if (deny.has(name) || (allow && !allow.has(name))) continue; // configured out: not a rejection
    const exposed = `${cfg.prefix ?? ''}${name}`;
    if (!EXPOSED_NAME.test(exposed)) {
      rejected.push({ tool: name, reason: 'bad_name' });
      continue;
    }
    if (reserved.has(exposed)) {
      rejected.push({ tool: name, reason: 'collision' });
      continue;
    }
    if (seen.has(exposed)) {
      rejected.push({ tool: name, reason: 'duplicate' });
      continue;
    }
    const schema = t.inputSchema;
    if (!isPlainObject(schema) || schema.type !== 'object') {
      rejected.push({ tool: name, reason: 'bad_schema' });
      continue;
    }
    let validator: ValidateFunction;
    try {
      const { $schema: _drop, ...rest } = schema;
      validator = ajv.compile(rest);
    } catch {
      rejected.push({ tool: name, reason: 'bad_schema' });
      continue;
    }
    if (tools.length >= MAX_TOOLS_PER_SERVER) {
      rejected.push({ tool: name, reason: 'too_many' });
      continue;
    }
    seen.add(exposed);
    const rawDescription = typeof t.description === 'string' ? t.description.trim() : '';
    const description = (rawDescription || `${name} (from MCP server ${cfg.name})`).slice(0, MAX_DESCRIPTION);
    tools.push({
      exposed,
      original: name,
      description,
      parameters: schema,
      sideEffect: cfg.side_effects[name] ?? cfg.side_effect,
      validate: (args) =>
        validator(args)
          ? null
          : (validator.errors ?? []).slice(0, 8).map((e) => ({
              path: (e.instancePath || '/').slice(0, 200),
              message: (e.message ?? 'is invalid').slice(0, 200),
            })),
    });
  }
  return { tools, rejected };
}
