import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * Real MCP servers on loopback, written with the SDK's server side, for the integration tests.
 * Each session gets its own McpServer with the same tools; `addTool` registers on every live
 * session, which makes the SDK send `notifications/tools/list_changed`.
 */

export type TransportKind = 'streamable_http' | 'sse';

export interface TestMcpOptions {
  transport: TransportKind;
  /** Authorization the server requires: a fixed bearer, or a token issued by `tokens`. */
  auth?: { bearer: string } | { tokens: TokenServer };
  /** `slow` sleeps this long unless cancelled (default 10 s). */
  slowMs?: number;
  /** listen on this port (a server that comes back where it was) */
  port?: number;
}

export interface TestMcpServer {
  url: string;
  port: number;
  /** tools/call seen, by tool name */
  calls: string[];
  /** request ids of `slow` calls the server saw cancelled (its abort signal fired) */
  cancelled: number;
  /** Authorization headers received (to assert auth, never printed) */
  authHeaders: string[];
  unauthorized: number;
  addTool(name: string): void;
  /** Resolves when a `slow` call has started on the server. */
  slowStarted(): Promise<void>;
  /** Kills every connection at once (a crash), keeps the port closed. */
  crash(): Promise<void>;
  close(): Promise<void>;
}

function register(
  server: McpServer,
  state: { calls: string[]; cancelled: number; slowMs: number; onSlow: () => void },
): void {
  const calls = state.calls;
  server.registerTool(
    'lookup_order',
    {
      description: 'Looks up an order by id',
      inputSchema: { order_id: z.string() },
    },
    async ({ order_id }) => {
      calls.push('lookup_order');
      return {
        content: [{ type: 'text', text: `order ${order_id} shipped` }],
        structuredContent: { order_id, status: 'shipped' },
      };
    },
  );
  server.registerTool('echo', { description: 'Echoes text', inputSchema: { text: z.string() } }, async ({ text }) => {
    calls.push('echo');
    return {
      content: [
        { type: 'text', text },
        { type: 'text', text: 'done' },
      ],
    };
  });
  server.registerTool('fails', { description: 'Always reports an error', inputSchema: {} }, async () => {
    calls.push('fails');
    return { isError: true, content: [{ type: 'text', text: 'order system is down' }] };
  });
  server.registerTool('big', { description: 'Returns about 10 KB of text', inputSchema: {} }, async () => {
    calls.push('big');
    return { content: [{ type: 'text', text: 'x'.repeat(10 * 1024) }] };
  });
  server.registerTool('picture', { description: 'Returns an image and a caption', inputSchema: {} }, async () => {
    calls.push('picture');
    return {
      content: [
        { type: 'text', text: 'a cat' },
        { type: 'image', mimeType: 'image/png', data: Buffer.alloc(3000, 7).toString('base64') },
      ],
    };
  });
  server.registerTool('slow', { description: 'Takes long unless cancelled', inputSchema: {} }, async (_args, extra) => {
    calls.push('slow');
    state.onSlow();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, state.slowMs);
      extra.signal.addEventListener('abort', () => {
        state.cancelled++;
        clearTimeout(t);
        resolve();
      });
    });
    return { content: [{ type: 'text', text: 'finally' }] };
  });
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export async function startMcpServer(o: TestMcpOptions): Promise<TestMcpServer> {
  const servers = new Set<McpServer>();
  const extraTools: string[] = [];
  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const sse = new Map<string, SSEServerTransport>();
  const slowWaiters: Array<() => void> = [];
  const state = {
    calls: [] as string[],
    cancelled: 0,
    slowMs: o.slowMs ?? 10_000,
    onSlow: () => {
      for (const w of slowWaiters.splice(0)) w();
    },
  };
  const authHeaders: string[] = [];
  let unauthorized = 0;

  const newServer = (): McpServer => {
    const s = new McpServer({ name: 'test-crm', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    register(s, state);
    for (const name of extraTools)
      s.registerTool(name, { description: `added ${name}`, inputSchema: {} }, async () => ({
        content: [{ type: 'text', text: name }],
      }));
    servers.add(s);
    return s;
  };

  const authorized = (req: http.IncomingMessage): boolean => {
    const h = req.headers.authorization ?? '';
    authHeaders.push(h);
    if (!o.auth) return true;
    if ('bearer' in o.auth) return h === `Bearer ${o.auth.bearer}`;
    return o.auth.tokens.valid(h.replace(/^Bearer /, ''));
  };

  const httpServer = http.createServer((req, res) => {
    void (async () => {
      if (!authorized(req)) {
        unauthorized++;
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
      const url = new URL(req.url ?? '/', 'http://x');
      if (o.transport === 'sse') {
        if (req.method === 'GET' && url.pathname === '/sse') {
          const t = new SSEServerTransport('/messages', res);
          sse.set(t.sessionId, t);
          res.on('close', () => sse.delete(t.sessionId));
          await newServer().connect(t);
          return;
        }
        if (req.method === 'POST' && url.pathname === '/messages') {
          const t = sse.get(url.searchParams.get('sessionId') ?? '');
          if (!t) return void res.writeHead(404).end();
          await t.handlePostMessage(req, res, await readBody(req));
          return;
        }
        return void res.writeHead(404).end();
      }
      if (url.pathname !== '/mcp') return void res.writeHead(404).end();
      const sid = req.headers['mcp-session-id'];
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      let t = typeof sid === 'string' ? streamable.get(sid) : undefined;
      if (!t) {
        if (sid) return void res.writeHead(404).end();
        t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            streamable.set(id, t!);
          },
        });
        await newServer().connect(t);
      }
      await t.handleRequest(req, res, body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => httpServer.listen(o.port ?? 0, '127.0.0.1', r));
  const { port } = httpServer.address() as AddressInfo;
  const closeAll = async (): Promise<void> => {
    httpServer.closeAllConnections();
    await new Promise((r) => httpServer.close(r));
    for (const s of servers) await s.close().catch(() => undefined);
    servers.clear();
  };
  return {
    url: `http://127.0.0.1:${port}${o.transport === 'sse' ? '/sse' : '/mcp'}`,
    port,
    calls: state.calls,
    get cancelled() {
      return state.cancelled;
    },
    authHeaders,
    get unauthorized() {
      return unauthorized;
    },
    addTool(name) {
      extraTools.push(name);
      for (const s of servers) {
        if (s.isConnected())
          s.registerTool(name, { description: `added ${name}`, inputSchema: {} }, async () => ({
            content: [{ type: 'text', text: name }],
          }));
      }
    },
    slowStarted: () =>
      new Promise<void>((r) => {
        slowWaiters.push(r);
      }),
    crash: closeAll,
    close: closeAll,
  };
}

/** An OAuth 2 token endpoint (client credentials, HTTP Basic) that issues numbered tokens. */
export interface TokenServer {
  url: string;
  issued: number;
  valid(token: string): boolean;
  /** The MCP server forgets every token issued so far (they answer 401 until renewed). */
  revokeAll(): void;
  close(): Promise<void>;
}

export async function startTokenServer(clientId: string, clientSecret: string, expiresIn = 3600): Promise<TokenServer> {
  const live = new Set<string>();
  let issued = 0;
  const server = http.createServer((req, res) => {
    void readBodyText(req).then((body) => {
      const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
      const form = new URLSearchParams(body);
      if (req.headers.authorization !== `Basic ${basic}` || form.get('grant_type') !== 'client_credentials') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        return;
      }
      issued++;
      const token = `tok-${issued}-${randomUUID()}`;
      live.add(token);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: expiresIn }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    get issued() {
      return issued;
    },
    valid: (t) => live.has(t),
    revokeAll: () => live.clear(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

async function readBodyText(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export { freePort } from '../../src/sim/free-port.js';

/**
 * A hostile MCP server (streamable HTTP, JSON answers, no SDK): its tool list and its
 * `tools/call` answer are whatever the test says, including a result streamed without end.
 */
export interface HostileOptions {
  /** tools/list pages: one array per page */
  pages: unknown[][];
  /** bytes of a `tools/call` text result, streamed in 64 KB chunks */
  resultBytes?: number;
}

export interface HostileServer {
  url: string;
  bytesSent: () => number;
  callsStarted: () => number;
  close(): Promise<void>;
}

export async function startHostileServer(o: HostileOptions): Promise<HostileServer> {
  let sent = 0;
  let callsStarted = 0;
  const server = http.createServer((req, res) => {
    void readBodyText(req).then((text) => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const msg = JSON.parse(text) as {
        id?: number;
        method: string;
        params?: { cursor?: string; protocolVersion?: string };
      };
      if (msg.id === undefined) return void res.writeHead(202).end();
      const reply = (result: unknown): void => {
        res
          .writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'hostile-1' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      };
      if (msg.method === 'initialize') {
        return reply({
          protocolVersion: msg.params?.protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: 'hostile', version: '0' },
        });
      }
      if (msg.method === 'tools/list') {
        const page = Number(msg.params?.cursor ?? '0');
        return reply({
          tools: o.pages[page] ?? [],
          nextCursor: page + 1 < o.pages.length ? String(page + 1) : undefined,
        });
      }
      if (msg.method === 'tools/call') {
        callsStarted++;
        res.writeHead(200, { 'content-type': 'application/json' });
        const head = `{"jsonrpc":"2.0","id":${msg.id},"result":{"content":[{"type":"text","text":"`;
        res.write(head);
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let left = o.resultBytes ?? 0;
        const pump = (): void => {
          while (left > 0 && !res.destroyed) {
            left -= chunk.length;
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end('"}]}}');
        };
        pump();
        return;
      }
      reply({});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    bytesSent: () => sent,
    callsStarted: () => callsStarted,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
