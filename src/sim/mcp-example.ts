import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

/**
 * The example MCP server of the offline demo: a stand-in for a contact center's CRM, written with
 * the official SDK's server side, serving one tool (`check_warranty`) over streamable HTTP at
 * `/mcp`. Run alone with `npm run mcp:example` (PORT, default 3901) and point an agent at it:
 *   mcp_servers: [{ name: crm, url: http://127.0.0.1:3901/mcp, prefix: crm_ }]
 * (with 127.0.0.1 in bridge.tool_allow_hosts: plain http on loopback is development only).
 */

const WARRANTIES: Record<string, { warranty: string; until: string }> = {
  '4417': { warranty: 'two year', until: 'March 2028' },
};

function exampleServer(): McpServer {
  const server = new McpServer({ name: 'northwind-crm-example', version: '1.0.0' });
  server.registerTool(
    'check_warranty',
    {
      description: 'Warranty cover of an order: what it covers and until when.',
      inputSchema: { order_id: z.string().describe('The order number, digits only') },
    },
    async ({ order_id }) => {
      const w = WARRANTIES[order_id];
      if (!w) return { isError: true, content: [{ type: 'text', text: `no warranty found for order ${order_id}` }] };
      const result = { order_id, covered: true, ...w };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  return server;
}

export interface ExampleMcpServer {
  url: string;
  close(): Promise<void>;
}

export async function startExampleMcpServer(port = 0, host = '127.0.0.1'): Promise<ExampleMcpServer> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = http.createServer((req, res) => {
    void (async () => {
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/mcp') return void res.writeHead(404).end();
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      const sid = req.headers['mcp-session-id'];
      let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
      if (!transport) {
        if (sid) return void res.writeHead(404).end();
        const t = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            sessions.set(id, t);
          },
        });
        t.onclose = () => {
          if (t.sessionId) sessions.delete(t.sessionId);
        };
        await exampleServer().connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res, text ? JSON.parse(text) : undefined);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  await new Promise<void>((r) => httpServer.listen(port, host, r));
  const addr = httpServer.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}/mcp`,
    close: async () => {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const s = await startExampleMcpServer(Number(process.env.PORT ?? 3901));
  process.stdout.write(`example MCP server (tool check_warranty) at ${s.url}\n`);
  process.on('SIGINT', () => void s.close().then(() => process.exit(0)));
}
