/**
 * McpManager: every MCP server of every agent, for the life of the process.
 *
 * API (src/server/app.ts builds one; config reload calls `reconcile`):
 * - `McpManager.create(agents, opts)` checks every server's configuration (URL and token URL under
 *   the webhooks' SSRF policy and dev allow-list, secrets present in the environment) and throws a
 *   start-up error naming each problem; then starts discovery in the background and returns at
 *   once: answering a call never waits for an MCP server.
 * - `toolSetFor(agentId, base)` is called once per engine session of a call. It returns the
 *   agent's configured tools (`base`) plus the MCP tools listed at that moment, and takes a
 *   reference on the agent's servers; the caller calls `release()` exactly once when done.
 * - `reconcile(agents)` applies a new configuration: servers added are opened, servers removed
 *   (or changed: same name, different settings) stop being offered to new calls at once and are
 *   closed when the last call holding them releases. Invalid configuration throws before
 *   anything changes.
 * - `whenSettled(timeoutMs)` resolves once every server has been listed or has failed once
 *   (demo, tests). `close()` closes every session.
 */
import type { AgentConfig } from '../../config/schema.js';
import type { Logger } from '../../observability/logger.js';
import { checkWebhookUrl, normalizeHost, type Resolver } from '../netguard.js';
import type { RegisteredTool, ToolSet } from '../registry.js';
import type { EngineToolDefinition } from '../types.js';
import { McpConnection } from './connection.js';
import { createMcpExecutor } from './executor.js';
import { noMcpMetrics, type McpMetrics } from './metrics.js';
import type { McpServerConfig } from './schema.js';

/** Engine verbs: names a discovered tool must never shadow. */
export const VERB_NAMES: ReadonlySet<string> = new Set([
  'transfer_to_human',
  'send_dtmf',
  'play_hold',
  'collect',
  'end_call',
]);

export type McpAgentConfig = Pick<AgentConfig, 'id' | 'tools' | 'mcp_servers'>;

export interface McpManagerOptions {
  env: NodeJS.ProcessEnv;
  allowHosts?: string[];
  logger: Logger;
  metrics?: McpMetrics;
  resolver?: Resolver;
  /** Reconnect backoff (tests shorten it). */
  reconnect?: { initialMs: number; maxMs: number };
  maxMessageBytes?: number;
}

interface Held {
  readonly key: string;
  readonly agentId: string;
  readonly conn: McpConnection;
  readonly fingerprint: string;
  refs: number;
  retired: boolean;
  /** The connection's tools as registry entries, rebuilt when its list changes. */
  tools: RegisteredTool[];
}

const keyOf = (agentId: string, server: string): string => `${agentId}\u0000${server}`;

export class McpManager {
  private readonly held = new Map<string, Held>();
  /** Per agent, its live servers in configuration order (earlier servers win a name clash). */
  private readonly byAgent = new Map<string, Held[]>();
  private readonly configured = new Map<string, ReadonlySet<string>>();
  private readonly settled: Promise<void>[] = [];

  private constructor(private readonly opts: McpManagerOptions) {}

  static create(agents: readonly McpAgentConfig[], opts: McpManagerOptions): McpManager {
    const m = new McpManager(opts);
    m.reconcile(agents);
    return m;
  }

  get size(): number {
    return this.held.size;
  }

  reconcile(agents: readonly McpAgentConfig[]): void {
    const allow = new Set((this.opts.allowHosts ?? []).map(normalizeHost));
    const problems: string[] = [];
    const wanted = new Map<
      string,
      {
        agentId: string;
        cfg: McpServerConfig;
        url: URL;
        allowListed: boolean;
        tokenAllowListed: boolean;
        fingerprint: string;
      }
    >();
    for (const a of agents) {
      for (const cfg of a.mcp_servers) {
        const where = `agent "${a.id}" mcp server "${cfg.name}"`;
        if (wanted.has(keyOf(a.id, cfg.name))) {
          problems.push(`${where}: defined twice`);
          continue;
        }
        const check = checkWebhookUrl(cfg.url, allow);
        // The URL is not echoed: it may carry a token in its query string.
        if (!check.ok)
          problems.push(
            `${where}: url refused: ${check.reason} (https only; add the host to bridge.tool_allow_hosts for local development)`,
          );
        let tokenAllowListed = false;
        if (cfg.auth.kind === 'oauth2_client_credentials') {
          const t = checkWebhookUrl(cfg.auth.token_url, allow);
          if (!t.ok) problems.push(`${where}: auth.token_url refused: ${t.reason}`);
          else tokenAllowListed = t.allowListed;
        }
        const envs =
          cfg.auth.kind === 'bearer'
            ? [cfg.auth.secret_env]
            : cfg.auth.kind === 'oauth2_client_credentials'
              ? [cfg.auth.client_id_env, cfg.auth.client_secret_env]
              : [];
        for (const e of envs) if (!this.opts.env[e]) problems.push(`${where}: environment variable ${e} is not set`);
        if (!check.ok) continue;
        const fingerprint = JSON.stringify(cfg);
        wanted.set(keyOf(a.id, cfg.name), {
          agentId: a.id,
          cfg,
          url: check.url,
          allowListed: check.allowListed,
          tokenAllowListed,
          fingerprint,
        });
      }
    }
    if (problems.length > 0) throw new Error(`invalid MCP server configuration:\n  - ${problems.join('\n  - ')}`);

    for (const a of agents) this.configured.set(a.id, new Set(a.tools.map((t) => t.name)));
    for (const h of [...this.held.values()]) {
      const w = wanted.get(h.key);
      if (!w || w.fingerprint !== h.fingerprint) this.retire(h);
    }
    const order = new Map<string, Held[]>();
    for (const [key, w] of wanted) {
      let h = this.held.get(key);
      if (!h) {
        const conn = new McpConnection({
          agentId: w.agentId,
          config: w.cfg,
          url: w.url,
          allowListed: w.allowListed,
          tokenAllowListed: w.tokenAllowListed,
          env: this.opts.env,
          resolver: this.opts.resolver,
          logger: this.opts.logger,
          metrics: this.opts.metrics ?? noMcpMetrics,
          reserved: (server) => this.reservedFor(w.agentId, server),
          onToolsChanged: () => this.rebuild(key),
          reconnect: this.opts.reconnect,
          maxMessageBytes: this.opts.maxMessageBytes,
        });
        h = { key, agentId: w.agentId, conn, fingerprint: w.fingerprint, refs: 0, retired: false, tools: [] };
        this.held.set(key, h);
        this.settled.push(conn.whenSettled());
        conn.start();
        if (w.allowListed)
          this.opts.logger.warn(
            { agent: w.agentId, mcpServer: w.cfg.name },
            'MCP server host is dev allow-listed: no SSRF address check, http allowed',
          );
      }
      const list = order.get(w.agentId) ?? [];
      list.push(h);
      order.set(w.agentId, list);
    }
    this.byAgent.clear();
    for (const [agentId, list] of order) this.byAgent.set(agentId, list);
    for (const agentId of this.configured.keys())
      if (!agents.some((a) => a.id === agentId)) this.configured.delete(agentId);
  }

  /** Names the tools of `server` may not take: configured tools, verbs, earlier servers' tools. */
  private reservedFor(agentId: string, server: string): ReadonlySet<string> {
    const names = new Set<string>([...VERB_NAMES, ...(this.configured.get(agentId) ?? [])]);
    for (const h of this.byAgent.get(agentId) ?? []) {
      if (h.conn.name === server) break;
      for (const t of h.conn.tools) names.add(t.exposed);
    }
    return names;
  }

  private rebuild(key: string): void {
    const h = this.held.get(key);
    if (!h) return;
    const cfg = h.conn.config;
    h.tools = h.conn.tools.map((t) => ({
      definition: {
        name: t.exposed,
        description: t.description,
        parameters: t.parameters,
        timeout_ms: cfg.timeout_ms,
        side_effect: t.sideEffect,
        executor: { kind: 'mcp', server: cfg.name, tool: t.original },
      },
      validate: (args: unknown) => t.validate(args),
      execute: createMcpExecutor(h.conn, t.original, cfg.timeout_ms),
    }));
  }

  private retire(h: Held): void {
    if (h.retired) return;
    h.retired = true;
    this.held.delete(h.key);
    if (h.refs === 0) void h.conn.close();
    else
      this.opts.logger.info(
        { agent: h.agentId, mcpServer: h.conn.name, calls: h.refs },
        'MCP server removed: closing once its calls end',
      );
  }

  /** The tools one engine session of a call may use; `release()` once when it is done with them. */
  toolSetFor(agentId: string, base: ToolSet | undefined): ToolSet | undefined {
    const servers = [...(this.byAgent.get(agentId) ?? [])];
    if (servers.length === 0) return base;
    for (const h of servers) h.refs++;
    const mcp = new Map<string, RegisteredTool>();
    for (const h of servers)
      for (const t of h.tools)
        if (!mcp.has(t.definition.name) && !base?.get(t.definition.name)) mcp.set(t.definition.name, t);
    let released = false;
    return {
      get: (name) => base?.get(name) ?? mcp.get(name),
      definitionsForEngine: (): EngineToolDefinition[] => [
        ...(base?.definitionsForEngine() ?? []),
        ...[...mcp.values()].map(({ definition: d }) => ({
          name: d.name,
          description: d.description,
          parameters: d.parameters,
        })),
      ],
      secretValues: () => [...(base?.secretValues() ?? []), ...servers.flatMap((h) => h.conn.auth.secrets())],
      release: () => {
        if (released) return;
        released = true;
        for (const h of servers) {
          h.refs--;
          if (h.retired && h.refs === 0) void h.conn.close();
        }
      },
    };
  }

  /** Every server listed or failed once (or the timeout): for the demo and tests, never for a call. */
  async whenSettled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.settled),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Calls currently holding a server (tests, reload). */
  refsOf(agentId: string, server: string): number | undefined {
    return this.held.get(keyOf(agentId, server))?.refs;
  }

  connection(agentId: string, server: string): McpConnection | undefined {
    return this.held.get(keyOf(agentId, server))?.conn;
  }

  async close(): Promise<void> {
    const all = [...this.held.values()];
    this.held.clear();
    this.byAgent.clear();
    await Promise.all(all.map((h) => h.conn.close()));
  }
}
