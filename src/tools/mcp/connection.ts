import http from 'node:http';
import https from 'node:https';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Logger } from '../../observability/logger.js';
import { ToolExecutionError } from '../errors.js';
import type { Resolver } from '../netguard.js';
import { createAuth, withAuth, type McpAuth } from './auth.js';
import { createGuardedFetch } from './fetch.js';
import type { McpMetrics } from './metrics.js';
import type { McpServerConfig } from './schema.js';
import { decideMcpReconnect, DEFAULT_MCP_RECONNECT, MCP_UP, type McpReconnectHistory } from './reconnect.js';
import {
  acceptTools,
  MAX_LIST_BYTES,
  MAX_LIST_PAGES,
  MAX_TOOLS_PER_SERVER,
  printable,
  type McpToolEntry,
  type Rejection,
} from './tool-list.js';

/** Largest single message (a JSON body, or one SSE event) read from a server. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const LIST_TIMEOUT_MS = 10_000;
/** `tools/list_changed` triggers at most one listing per this interval (a flood costs nothing). */
const LIST_CHANGED_MIN_INTERVAL_MS = 1000;
const MAX_ERROR_TEXT = 200;

const listPage = z.object({ tools: z.array(z.unknown()), nextCursor: z.string().max(4096).optional() }).passthrough();
const anyResult = z.object({}).passthrough();

export interface McpConnectionOptions {
  agentId: string;
  config: McpServerConfig;
  url: URL;
  allowListed: boolean;
  /** The OAuth token URL's own allow-list verdict (its host may differ from the server's). */
  tokenAllowListed?: boolean;
  env: NodeJS.ProcessEnv;
  resolver?: Resolver;
  logger: Logger;
  metrics: McpMetrics;
  /** Names the server's tools must not take: the agent's configured tools, the verbs, other servers'. */
  reserved: (server: string) => ReadonlySet<string>;
  /** The accepted tool list changed (discovery, refresh, loss). */
  onToolsChanged: () => void;
  reconnect?: { initialMs: number; maxMs: number };
  maxMessageBytes?: number;
}

const bound = (s: string): string => (s.length > MAX_ERROR_TEXT ? `${s.slice(0, MAX_ERROR_TEXT)}…` : s);
function firstLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return bound((m.split('\n')[0] ?? '').trim() || 'error');
}

export function unavailable(message: string): ToolExecutionError {
  return new ToolExecutionError('tool_failed', message, { error: 'tool_failed', message });
}

/**
 * One kept-open session with one MCP server, shared by every call of the agent. It connects in the
 * background (never on a call's path), lists the tools (all pages, bounded), follows
 * `tools/list_changed` and a periodic refresh, and reconnects with backoff when the server goes
 * away. While it is down its tools are withdrawn, so new calls are not offered what cannot run.
 */
export class McpConnection {
  private client: Client | undefined;
  private generation = 0;
  private state: 'idle' | 'connecting' | 'up' | 'down' | 'closed' = 'idle';
  private current: readonly McpToolEntry[] = [];
  /** reconnect attempts since the session was last up (src/tools/mcp/reconnect.ts decides the pauses) */
  private retries: McpReconnectHistory = MCP_UP;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private listChangedTimer: NodeJS.Timeout | undefined;
  private lastListing = 0;
  private listing: Promise<void> | undefined;
  private listAgain = false;
  private lastRejections = '';
  /** Why the current generation was torn down by the bridge (an oversized message), for its calls. */
  private brokenBy = new Map<number, string>();
  readonly auth: McpAuth;
  private settle: (() => void) | undefined;
  private readonly settledOnce = new Promise<void>((r) => {
    this.settle = r;
  });
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };
  private readonly log: Logger;

  constructor(private readonly o: McpConnectionOptions) {
    this.log = o.logger.child({ agent: o.agentId, mcpServer: o.config.name });
    const tokenFetch =
      o.config.auth.kind === 'oauth2_client_credentials'
        ? createGuardedFetch({
            allowListed: o.tokenAllowListed ?? false,
            resolver: o.resolver,
            maxMessageBytes: 64 * 1024,
            agents: this.agents,
            onOversize: () => undefined,
          })
        : undefined;
    this.auth = createAuth(o.config.auth, o.env, tokenFetch);
  }

  get name(): string {
    return this.o.config.name;
  }

  get config(): McpServerConfig {
    return this.o.config;
  }

  get tools(): readonly McpToolEntry[] {
    return this.current;
  }

  get isUp(): boolean {
    return this.state === 'up';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Resolves once the first connection attempt has listed the tools or failed. */
  whenSettled(): Promise<void> {
    return this.settledOnce;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const gen = ++this.generation;
    this.open(gen).catch((err: unknown) => this.lost(gen, `connect failed: ${firstLine(err)}`));
  }

  private async open(gen: number): Promise<void> {
    const fetchFn = withAuth(
      createGuardedFetch({
        allowListed: this.o.allowListed,
        resolver: this.o.resolver,
        maxMessageBytes: this.o.maxMessageBytes ?? MAX_MESSAGE_BYTES,
        agents: this.agents,
        onOversize: (bytes) => {
          if (gen !== this.generation) return;
          this.o.metrics.rejected(this.o.agentId, this.name, 'message_too_large');
          const why = `server sent a message over ${this.o.maxMessageBytes ?? MAX_MESSAGE_BYTES} bytes`;
          this.brokenBy.set(gen, why);
          this.log.warn({ bytes }, `MCP ${why}: response dropped, session reset`);
          this.lost(gen, why);
        },
        // A stream cut mid-message (the server crashed): the session cannot be trusted any more.
        onBroken: () => this.lost(gen, 'the server closed a response mid-stream'),
      }),
      this.auth,
    );
    const client = new Client({ name: 'omni-phone-bridge', version: '0.1.0' }, { capabilities: {} });
    const transport =
      this.o.config.transport === 'sse'
        ? new SSEClientTransport(this.o.url, { fetch: fetchFn })
        : new StreamableHTTPClientTransport(this.o.url, { fetch: fetchFn });
    client.onclose = () => this.lost(gen, 'session closed');
    client.onerror = (err) => this.log.debug({ err: firstLine(err) }, 'MCP transport error');
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.onListChanged(gen));
    this.client = client;
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
    if (gen !== this.generation) return;
    await this.list(client, gen);
    if (gen !== this.generation) return;
    this.state = 'up';
    this.retries = MCP_UP;
    this.o.metrics.up(this.o.agentId, this.name, true);
    this.log.info({ tools: this.current.map((t) => t.exposed) }, 'MCP server connected');
    this.settle?.();
    clearInterval(this.refreshTimer);
    this.refreshTimer = setInterval(() => void this.refresh(), this.o.config.refresh_s * 1000);
    this.refreshTimer.unref();
  }

  /** The session is gone (or never came up): withdraw the tools, reconnect with backoff. */
  private lost(gen: number, why: string): void {
    if (gen !== this.generation || this.state === 'closed') return;
    const wasUp = this.state === 'up';
    for (const k of this.brokenBy.keys()) if (k < gen) this.brokenBy.delete(k);
    this.generation++;
    this.state = 'down';
    clearInterval(this.refreshTimer);
    const client = this.client;
    this.client = undefined;
    // Closing rejects every request still waiting on this session: their calls get an answer now.
    client?.close().catch(() => undefined);
    if (this.current.length > 0) {
      this.current = [];
      this.o.onToolsChanged();
    }
    this.o.metrics.up(this.o.agentId, this.name, false);
    this.o.metrics.connectFailures(this.o.agentId, this.name);
    const decision = decideMcpReconnect(this.retries, this.o.reconnect ?? DEFAULT_MCP_RECONNECT);
    this.retries = decision.history;
    const delay = decision.delayMs;
    const line = { reason: bound(why), retryInMs: Math.round(delay), attempt: this.retries.attempt };
    if (wasUp || this.retries.attempt === 1)
      this.log.warn(line, 'MCP server unavailable: its tools are withdrawn until it answers');
    else this.log.debug(line, 'MCP server still unavailable');
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
    this.settle?.();
  }

  private onListChanged(gen: number): void {
    if (gen !== this.generation || this.state !== 'up' || this.listChangedTimer) return;
    const wait = Math.max(0, this.lastListing + LIST_CHANGED_MIN_INTERVAL_MS - Date.now());
    this.listChangedTimer = setTimeout(() => {
      this.listChangedTimer = undefined;
      void this.refresh();
    }, wait);
    this.listChangedTimer.unref();
  }

  /** Lists the tools again (background); a listing already running is followed by one more. */
  refresh(): Promise<void> {
    const client = this.client;
    if (this.state !== 'up' || !client) return Promise.resolve();
    if (this.listing) {
      this.listAgain = true;
      return this.listing;
    }
    const gen = this.generation;
    this.listing = this.list(client, gen)
      .catch((err: unknown) => {
        if (err instanceof McpError)
          this.log.warn({ err: firstLine(err) }, 'MCP tools/list failed: keeping the previous list');
        else this.lost(gen, `tools/list failed: ${firstLine(err)}`);
      })
      .finally(() => {
        this.listing = undefined;
        if (this.listAgain) {
          this.listAgain = false;
          void this.refresh();
        }
      });
    return this.listing;
  }

  private async list(client: Client, gen: number): Promise<void> {
    this.lastListing = Date.now();
    const raw: unknown[] = [];
    const cut: Rejection[] = [];
    let bytes = 0;
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const res = await client.request({ method: 'tools/list', params: cursor ? { cursor } : {} }, listPage, {
        timeout: LIST_TIMEOUT_MS,
      });
      bytes += Buffer.byteLength(JSON.stringify(res.tools));
      if (bytes > MAX_LIST_BYTES) {
        cut.push({ tool: `(page ${page + 1})`, reason: 'list_too_large' });
        break;
      }
      raw.push(...res.tools);
      if (raw.length > MAX_TOOLS_PER_SERVER * 2) {
        cut.push({ tool: `(page ${page + 1})`, reason: 'too_many' });
        break;
      }
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    if (gen !== this.generation) return;
    const { tools, rejected } = acceptTools(raw, this.o.config, this.o.reserved(this.name));
    this.report([...cut, ...rejected]);
    const before = this.current.map((t) => t.exposed).join('\n');
    this.current = tools;
    if (tools.map((t) => t.exposed).join('\n') !== before) this.o.onToolsChanged();
  }

  /** One warning per distinct set of refusals (a server listed again says nothing new). */
  private report(rejected: Rejection[]): void {
    for (const r of rejected) this.o.metrics.rejected(this.o.agentId, this.name, r.reason);
    const key = rejected.map((r) => `${r.reason}:${r.tool}`).join('\n');
    if (key === this.lastRejections) return;
    this.lastRejections = key;
    if (rejected.length === 0) return;
    const byReason: Record<string, number> = {};
    for (const r of rejected) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
    this.log.warn(
      { refused: byReason, examples: rejected.slice(0, 5).map((r) => `${printable(r.tool)} (${r.reason})`) },
      'MCP tools refused: names the engine cannot carry, input schemas that are not JSON Schema objects, clashes, or over the bounds',
    );
  }

  /** `tools/call` on the open session; the signal cancels it (the SDK notifies the server). */
  async call(
    original: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    budgetMs: number,
  ): Promise<Record<string, unknown>> {
    const client = this.client;
    const gen = this.generation;
    if (!client || this.state !== 'up') throw unavailable('MCP server unavailable');
    try {
      return await client.request({ method: 'tools/call', params: { name: original, arguments: args } }, anyResult, {
        signal,
        timeout: budgetMs + 1000,
      });
    } catch (err) {
      if (signal.aborted) throw err;
      const broken = this.brokenBy.get(gen);
      this.brokenBy.delete(gen);
      if (broken) throw unavailable(`MCP ${broken}`);
      if (err instanceof McpError && err.code !== -32000)
        throw unavailable(`MCP error ${err.code}: ${firstLine(err).replace(/^MCP error -?\d+: /, '')}`);
      // A transport failure: the session is suspect; reconnect in the background.
      this.lost(gen, `tools/call failed: ${firstLine(err)}`);
      throw unavailable('MCP server connection lost');
    }
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.generation++;
    clearTimeout(this.retryTimer);
    clearTimeout(this.listChangedTimer);
    clearInterval(this.refreshTimer);
    const client = this.client;
    this.client = undefined;
    this.current = [];
    this.settle?.();
    await client?.close().catch(() => undefined);
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
