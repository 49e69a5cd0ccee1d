import path from 'node:path';
import { moduleImportUrl } from './module-version.js';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Logger } from '../observability/logger.js';
import { createAgents, createHttpExecutor } from './http-executor.js';
import { checkWebhookUrl, normalizeHost, type Resolver } from './netguard.js';
import type {
  EngineToolDefinition,
  Executor,
  HttpExecutorConfig,
  ModuleExecutorConfig,
  ToolDefinition,
} from './types.js';

export interface ValidationDetail {
  path: string;
  message: string;
}

export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** null when the arguments are valid, else bounded schema errors. */
  validate(args: unknown): ValidationDetail[] | null;
  readonly execute: Executor;
}

/**
 * What a call's tool runtime and its `configure` read: the agent's configured tools, plus (with
 * MCP servers) the tools discovered on them when the call started. `release` is called once when
 * the call no longer uses the set (it holds the MCP sessions open; src/tools/mcp/manager.ts).
 */
export interface ToolSet {
  get(name: string): RegisteredTool | undefined;
  definitionsForEngine(): EngineToolDefinition[];
  /** Resolved secret values, so outputs and logs can be scrubbed of them. Never log this. */
  secretValues(): readonly string[];
  release?(): void;
}

export interface RegistryOptions {
  /** Directory module paths are resolved against (the config file's directory). */
  baseDir: string;
  env: NodeJS.ProcessEnv;
  /** Development allow-list: these hosts skip the SSRF address check and may use plain http. */
  allowHosts?: string[];
  logger: Logger;
  /** DNS resolver override (tests). */
  resolver?: Resolver;
}

const MAX_DETAILS = 8;
const MAX_DETAIL_CHARS = 200;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]{1,4096}$/;

const bound = (s: string): string => (s.length > MAX_DETAIL_CHARS ? `${s.slice(0, MAX_DETAIL_CHARS)}…` : s);

function details(errors: ErrorObject[] | null | undefined): ValidationDetail[] {
  const list = errors ?? [];
  const out = list.slice(0, MAX_DETAILS).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : '';
    return { path: bound(e.instancePath || '/'), message: bound(`${e.message ?? 'is invalid'}${extra}`) };
  });
  if (list.length > MAX_DETAILS) out.push({ path: '/', message: `${list.length - MAX_DETAILS} more error(s)` });
  return out;
}

function shortMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return bound(m.split('\n')[0] ?? '');
}

/**
 * The tools of one agent, prepared once at start-up: schemas compiled, modules imported, webhook
 * URLs checked and secrets resolved, so a bad configuration fails before the first call instead of
 * in the middle of one.
 */
export class ToolRegistry implements ToolSet {
  private constructor(
    private readonly tools: Map<string, RegisteredTool>,
    private readonly secrets: string[],
    private readonly agents: ReturnType<typeof createAgents>,
  ) {}

  static async load(defs: ToolDefinition[], opts: RegistryOptions): Promise<ToolRegistry> {
    const allow = new Set((opts.allowHosts ?? []).map(normalizeHost));
    if (allow.size > 0) {
      opts.logger.warn(
        { allowHosts: [...allow] },
        'tool webhook dev allow-list active: these hosts skip the SSRF address check and may use http',
      );
    }
    const ajv = new Ajv({
      allErrors: true,
      strict: true,
      strictTypes: false,
      strictTuples: false,
      validateFormats: false,
      logger: false,
    });
    const agents = createAgents();
    const tools = new Map<string, RegisteredTool>();
    const secrets: string[] = [];
    const problems: string[] = [];

    for (const def of defs) {
      const where = `tool "${def.name}"`;
      if (tools.has(def.name)) {
        problems.push(`${where}: defined twice`);
        continue;
      }
      let validator: ValidateFunction;
      try {
        // `$schema` is dropped: the engine never needs it and Ajv would refuse drafts it does not bundle.
        const { $schema: _ignored, ...schema } = def.parameters;
        validator = ajv.compile(schema);
      } catch (err) {
        problems.push(`${where}: parameters is not a valid JSON Schema: ${shortMessage(err)}`);
        continue;
      }
      const secretOf = (envVar: string | undefined, what: string): string | undefined => {
        if (!envVar) return undefined;
        const value = opts.env[envVar];
        if (!value) {
          problems.push(`${where}: environment variable ${envVar} (${what}) is not set`);
          return undefined;
        }
        secrets.push(value);
        return value;
      };

      let execute: Executor | undefined;
      const ex = def.executor;
      if (ex.kind === 'http') {
        execute = ToolRegistry.httpTool(def, ex, opts, allow, agents, secretOf, problems);
      } else if (ex.kind === 'mcp') {
        problems.push(`${where}: MCP tools are discovered from the agent's mcp_servers, not configured`);
      } else {
        try {
          execute = await ToolRegistry.moduleTool(ex, opts.baseDir, def.settings);
        } catch (err) {
          problems.push(`${where}: ${shortMessage(err)}`);
        }
      }
      if (!execute) continue;
      const validate = (args: unknown): ValidationDetail[] | null =>
        validator(args) ? null : details(validator.errors);
      tools.set(def.name, { definition: def, validate, execute });
      opts.logger.info(
        { tool: def.name, kind: ex.kind, side_effect: def.side_effect, timeout_ms: def.timeout_ms },
        'tool loaded',
      );
    }

    if (problems.length > 0) {
      agents.http.destroy();
      agents.https.destroy();
      throw new Error(`invalid tool configuration:\n  - ${problems.join('\n  - ')}`);
    }
    return new ToolRegistry(tools, secrets, agents);
  }

  private static httpTool(
    def: ToolDefinition,
    ex: HttpExecutorConfig,
    opts: RegistryOptions,
    allow: ReadonlySet<string>,
    agents: ReturnType<typeof createAgents>,
    secretOf: (envVar: string | undefined, what: string) => string | undefined,
    problems: string[],
  ): Executor | undefined {
    const where = `tool "${def.name}"`;
    const check = checkWebhookUrl(ex.url, allow);
    if (!check.ok) {
      // The URL itself is not echoed: it may carry a token in its query string.
      problems.push(`${where}: webhook URL refused: ${check.reason}`);
      return undefined;
    }
    const authValue = secretOf(ex.auth_secret_env, 'auth secret');
    if (authValue !== undefined && !HEADER_VALUE.test(authValue)) {
      problems.push(`${where}: environment variable ${ex.auth_secret_env} contains characters not allowed in a header`);
      return undefined;
    }
    const signingSecret = secretOf(ex.signing_secret_env, 'signing secret');
    const previous = secretOf(ex.previous_signing_secret_env, 'previous signing secret');
    if (check.allowListed) opts.logger.warn({ tool: def.name, host: check.host }, 'webhook host is dev allow-listed');
    return createHttpExecutor({
      toolName: def.name,
      config: ex,
      url: check.url,
      allowListed: check.allowListed,
      authValue,
      signingSecret,
      ...(previous && ex.previous_signing_until_ms
        ? { previousSigning: { secret: previous, untilMs: ex.previous_signing_until_ms } }
        : {}),
      agents,
      resolver: opts.resolver,
      ...(def.settings ? { settings: def.settings } : {}),
    });
  }

  private static async moduleTool(
    ex: ModuleExecutorConfig,
    baseDir: string,
    settings: Record<string, unknown> | undefined,
  ): Promise<Executor> {
    const file = path.resolve(baseDir, ex.module);
    let mod: Record<string, unknown>;
    try {
      // A changed file gets its content hash in the URL: a new module, loaded afresh (module-version.ts).
      mod = (await import(moduleImportUrl(file))) as Record<string, unknown>;
    } catch (err) {
      const hint =
        (err as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION'
          ? ' (the bridge runs as compiled JavaScript: compile the tool to .js; docs/tools.md)'
          : '';
      throw new Error(`cannot import module ${ex.module}: ${shortMessage(err)}${hint}`);
    }
    const name = ex.export ?? 'default';
    const handler = mod[name];
    if (typeof handler !== 'function') throw new Error(`module ${ex.module} has no function export "${name}"`);
    // Called through an async arrow so a synchronous throw becomes a rejection like any other failure.
    return async (args, ctx) =>
      (handler as (a: unknown, c: unknown) => unknown)(args, {
        ...ctx.context,
        ...(settings ? { settings } : {}),
        toolCallId: ctx.toolCallId,
        signal: ctx.signal,
      });
  }

  /** The tools as the engine's `configure.tools` expects them. */
  definitionsForEngine(): EngineToolDefinition[] {
    return [...this.tools.values()].map(({ definition: d }) => ({
      name: d.name,
      description: d.description,
      parameters: d.parameters,
    }));
  }

  get(name: string): RegisteredTool | undefined {
    return this.tools.get(name);
  }

  get size(): number {
    return this.tools.size;
  }

  /** Resolved secret values, so outputs and logs can be scrubbed of them. Never log this. */
  secretValues(): readonly string[] {
    return this.secrets;
  }

  /** Closes pooled webhook connections (shutdown, tests). */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
