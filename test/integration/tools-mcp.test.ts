import { afterEach, describe, expect, it } from 'vitest';
import { McpManager, type McpAgentConfig } from '../../src/tools/mcp/manager.js';
import { mcpServerSchema, type McpServerConfig } from '../../src/tools/mcp/schema.js';
import type { ToolSet } from '../../src/tools/registry.js';
import { ToolRuntime } from '../../src/tools/runtime.js';
import type { ToolOutcome } from '../../src/tools/types.js';
import {
  freePort,
  startHostileServer,
  startMcpServer,
  startTokenServer,
  type TestMcpServer,
  type TokenServer,
  type TransportKind,
} from '../helpers/mcp-servers.js';
import { captureLogger } from '../unit/tools/helpers.js';

const BEARER = 'mcp-bearer-7c1d2e3f4a5b';
const CLIENT_ID = 'bridge-client';
const CLIENT_SECRET = 'client-secret-9a8b7c6d5e';
const env = { MCP_BEARER: BEARER, MCP_CLIENT_ID: CLIENT_ID, MCP_CLIENT_SECRET: CLIENT_SECRET };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(
  transport: TransportKind,
  extra: Partial<Parameters<typeof startMcpServer>[0]> = {},
): Promise<TestMcpServer> {
  const s = await startMcpServer({ transport, ...extra });
  cleanups.push(() => s.close());
  return s;
}

async function tokenServer(expiresIn = 3600): Promise<TokenServer> {
  const t = await startTokenServer(CLIENT_ID, CLIENT_SECRET, expiresIn);
  cleanups.push(() => t.close());
  return t;
}

function serverConfig(url: string, transport: TransportKind, extra: Record<string, unknown> = {}): McpServerConfig {
  return mcpServerSchema.parse({
    name: 'crm',
    url,
    transport,
    prefix: 'crm_',
    timeout_ms: 3000,
    side_effect: 'read',
    ...extra,
  });
}

function manager(servers: McpServerConfig[], configuredTools: string[] = []) {
  const log = captureLogger();
  const agents: McpAgentConfig[] = [
    { id: 'support', tools: configuredTools.map((name) => ({ name })) as never, mcp_servers: servers },
  ];
  const m = McpManager.create(agents, {
    env,
    allowHosts: ['127.0.0.1'],
    logger: log.logger,
    reconnect: { initialMs: 50, maxMs: 300 },
  });
  cleanups.push(() => m.close());
  return { m, log };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const names = (set: ToolSet | undefined): string[] => (set?.definitionsForEngine() ?? []).map((d) => d.name).sort();

interface Answer {
  callId: string;
  name: string;
  output: unknown;
}

/** One call's runtime over the manager's current tool set. */
function call(m: McpManager, ceilingMs = 5000) {
  const log = captureLogger();
  const set = m.toolSetFor('support', undefined)!;
  const answers: Answer[] = [];
  const finished: Array<{ tool: string; outcome: ToolOutcome; executor?: string; server?: string }> = [];
  const runtime = new ToolRuntime(set, {
    ceilingMs,
    context: { callSid: 'CA00000000000000000000000000000009', agentId: 'support' },
    logger: log.logger,
    send: (callId, name, output) => answers.push({ callId, name, output }),
    observer: { onToolFinished: (e) => finished.push(e) },
  });
  cleanups.push(() => {
    runtime.abortAll();
    set.release?.();
  });
  const run = async (name: string, args: unknown = {}): Promise<Answer> => {
    const id = `c${answers.length + finished.length}-${Math.random()}`;
    runtime.handle({ callId: id, name, arguments: args });
    await until(`answer to ${name}`, () => answers.some((a) => a.callId === id));
    return answers.find((a) => a.callId === id)!;
  };
  return { set, run, finished, log };
}

describe.each(['streamable_http', 'sse'] as const)('MCP tools over %s', (transport) => {
  it('discovers the tools at start-up, prefixed, and offers them to a call', async () => {
    const s = await server(transport);
    const { m } = manager([serverConfig(s.url, transport)]);
    await m.whenSettled(10_000);
    expect(names(m.toolSetFor('support', undefined))).toEqual([
      'crm_big',
      'crm_echo',
      'crm_fails',
      'crm_lookup_order',
      'crm_picture',
      'crm_slow',
    ]);
    const def = m
      .toolSetFor('support', undefined)!
      .definitionsForEngine()
      .find((d) => d.name === 'crm_lookup_order')!;
    expect(def.description).toBe('Looks up an order by id');
    expect(def.parameters).toMatchObject({ type: 'object', properties: { order_id: { type: 'string' } } });
  });

  it('structuredContent becomes the output; text is joined; isError becomes tool_failed; 10 KB is truncated; an image is summarised', async () => {
    const s = await server(transport);
    const { m } = manager([serverConfig(s.url, transport)]);
    await m.whenSettled(10_000);
    const c = call(m);
    expect((await c.run('crm_lookup_order', { order_id: '4417' })).output).toEqual({
      order_id: '4417',
      status: 'shipped',
    });
    expect((await c.run('crm_echo', '{"text":"hi"}')).output).toBe('hi\ndone');
    expect((await c.run('crm_fails')).output).toEqual({ error: 'tool_failed', message: 'order system is down' });
    const big = (await c.run('crm_big')).output as { truncated: boolean; bytes: number; preview: string };
    expect(big.truncated).toBe(true);
    expect(big.bytes).toBeGreaterThan(10 * 1024);
    expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThanOrEqual(6144);
    expect((await c.run('crm_picture')).output).toEqual({ text: 'a cat', content: ['[image image/png, 3000 bytes]'] });
    expect((await c.run('crm_lookup_order', { order_id: 7 })).output).toMatchObject({ error: 'invalid_arguments' });
    expect(s.calls).toEqual(['lookup_order', 'echo', 'fails', 'big', 'picture']);
    expect(c.finished[0]).toMatchObject({ tool: 'crm_lookup_order', outcome: 'ok', executor: 'mcp', server: 'crm' });
  });

  it('refreshes the list when the server announces tools/list_changed', async () => {
    const s = await server(transport);
    const { m } = manager([serverConfig(s.url, transport)]);
    await m.whenSettled(10_000);
    s.addTool('refund');
    await until('crm_refund listed', () => names(m.toolSetFor('support', undefined)).includes('crm_refund'));
    const c = call(m);
    expect((await c.run('crm_refund')).output).toBe('refund');
  });

  it('a slow tool times out at its budget and the server sees the request cancelled', async () => {
    const s = await server(transport);
    const { m } = manager([serverConfig(s.url, transport, { timeout_ms: 300 })]);
    await m.whenSettled(10_000);
    const c = call(m);
    const answer = await c.run('crm_slow');
    expect(answer.output).toEqual({ error: 'tool timed out' });
    await until('server saw the cancellation', () => s.cancelled === 1);
    // The session is still good for the next call.
    expect((await c.run('crm_lookup_order', { order_id: '1' })).output).toMatchObject({ status: 'shipped' });
  });

  it('a server that goes away mid-call: a structured error before the budget, tools withdrawn, back when it returns', async () => {
    const s = await server(transport);
    const { m, log } = manager([serverConfig(s.url, transport, { timeout_ms: 8000 })]);
    await m.whenSettled(10_000);
    const c = call(m, 10_000);
    const started = s.slowStarted();
    const pending = c.run('crm_slow');
    await started;
    await s.crash();
    const answer = await pending;
    expect(answer.output).toMatchObject({ error: 'tool_failed' });
    expect(c.finished.at(-1)?.outcome).toBe('tool_failed');
    await until('tools withdrawn', () => names(m.toolSetFor('support', undefined)).length === 0);
    expect(log.text()).toContain('MCP server unavailable');
    // The call goes on: a call to a tool of a server that is down gets an answer at once.
    expect((await c.run('crm_lookup_order', { order_id: '2' })).output).toMatchObject({ error: 'tool_failed' });
    const back = await server(transport, { port: s.port });
    await until('tools back', () => names(m.toolSetFor('support', undefined)).includes('crm_lookup_order'));
    expect((await call(m).run('crm_lookup_order', { order_id: '3' })).output).toMatchObject({ status: 'shipped' });
    expect(back.calls).toEqual(['lookup_order']);
  });
});

describe('MCP discovery never delays the bridge', () => {
  it('a server down at start-up: no tools, logged and counted; they appear when it comes up', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    const { m, log } = manager([serverConfig(url, 'streamable_http')]);
    const t0 = Date.now();
    const set = m.toolSetFor('support', undefined);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(names(set)).toEqual([]);
    await m.whenSettled(10_000);
    expect(log.text()).toContain('MCP server unavailable: its tools are withdrawn until it answers');
    await server('streamable_http', { port });
    await until('tools appear', () => names(m.toolSetFor('support', undefined)).includes('crm_echo'));
  });
});

describe('MCP configuration', () => {
  it('allow and deny lists filter by the server names; the prefix is applied after', async () => {
    const s = await server('streamable_http');
    const { m } = manager([
      serverConfig(s.url, 'streamable_http', { tools: { allow: ['lookup_order', 'echo', 'big'], deny: ['big'] } }),
      serverConfig(s.url, 'streamable_http', {
        name: 'crm2',
        prefix: 'two_',
        tools: { deny: ['slow', 'big', 'fails', 'picture'] },
      }),
    ]);
    await m.whenSettled(10_000);
    expect(names(m.toolSetFor('support', undefined))).toEqual([
      'crm_echo',
      'crm_lookup_order',
      'two_echo',
      'two_lookup_order',
    ]);
  });

  it('a name that collides with a configured tool or a verb is refused with a warning', async () => {
    const s = await server('streamable_http');
    s.addTool('end_call');
    const { m, log } = manager([serverConfig(s.url, 'streamable_http', { prefix: undefined })], ['echo']);
    await m.whenSettled(10_000);
    const listed = names(m.toolSetFor('support', undefined));
    expect(listed).not.toContain('end_call');
    expect(listed).not.toContain('echo');
    expect(listed).toContain('lookup_order');
    expect(log.text()).toContain('MCP tools refused');
    expect(log.text()).toMatch(/end_call \(collision\)/);
    expect(log.text()).toMatch(/echo \(collision\)/);
  });

  it('refuses at start-up a URL outside the SSRF policy and a missing secret, naming the server', () => {
    const log = captureLogger();
    const bad = [
      serverConfig('http://10.0.0.5/mcp', 'streamable_http'),
      serverConfig('https://example.com/mcp', 'streamable_http', {
        name: 'two',
        auth: { kind: 'bearer', secret_env: 'NOPE_UNSET' },
      }),
    ];
    expect(() =>
      McpManager.create([{ id: 'support', tools: [], mcp_servers: bad }], { env: {}, logger: log.logger }),
    ).toThrow(
      /mcp server "crm": url refused: scheme must be https[\s\S]*mcp server "two": environment variable NOPE_UNSET is not set/,
    );
  });

  it('reconcile opens added servers and closes a removed one only when the last call releases it', async () => {
    const s = await server('streamable_http');
    const { m } = manager([]);
    expect(m.toolSetFor('support', undefined)).toBeUndefined();
    const agents = (servers: McpServerConfig[]): McpAgentConfig[] => [
      { id: 'support', tools: [], mcp_servers: servers },
    ];
    m.reconcile(agents([serverConfig(s.url, 'streamable_http')]));
    await m.whenSettled(10_000);
    const conn = m.connection('support', 'crm')!;
    const held = m.toolSetFor('support', undefined)!;
    expect(names(held)).toContain('crm_echo');
    m.reconcile(agents([]));
    expect(m.toolSetFor('support', undefined)).toBeUndefined();
    expect(conn.isClosed).toBe(false);
    held.release?.();
    expect(conn.isClosed).toBe(true);
  });
});

describe('MCP auth', () => {
  it('bearer: the secret from the environment is sent; it never appears in a log line', async () => {
    const s = await server('streamable_http', { auth: { bearer: BEARER } });
    const { m, log } = manager([
      serverConfig(s.url, 'streamable_http', { auth: { kind: 'bearer', secret_env: 'MCP_BEARER' } }),
    ]);
    await m.whenSettled(10_000);
    const c = call(m);
    expect((await c.run('crm_lookup_order', { order_id: '9' })).output).toMatchObject({ status: 'shipped' });
    expect(s.unauthorized).toBe(0);
    expect(log.text() + c.log.text()).not.toContain(BEARER);
  });

  it('bearer: a wrong secret leaves the tools missing, says so, and does not log the secret', async () => {
    const s = await server('sse', { auth: { bearer: 'something-else-entirely' } });
    const { m, log } = manager([serverConfig(s.url, 'sse', { auth: { kind: 'bearer', secret_env: 'MCP_BEARER' } })]);
    await m.whenSettled(10_000);
    expect(names(m.toolSetFor('support', undefined))).toEqual([]);
    expect(s.unauthorized).toBeGreaterThan(0);
    expect(log.text()).toContain('MCP server unavailable');
    expect(log.text()).not.toContain(BEARER);
  });

  it.each(['streamable_http', 'sse'] as const)(
    'oauth2 client credentials over %s: one token for many calls, renewed once on a 401',
    async (transport) => {
      const tokens = await tokenServer();
      const s = await server(transport, { auth: { tokens } });
      const auth = {
        kind: 'oauth2_client_credentials',
        token_url: tokens.url,
        client_id_env: 'MCP_CLIENT_ID',
        client_secret_env: 'MCP_CLIENT_SECRET',
        scope: 'crm.read',
      };
      const { m, log } = manager([serverConfig(s.url, transport, { auth })]);
      await m.whenSettled(10_000);
      const c = call(m);
      for (const id of ['1', '2', '3'])
        expect((await c.run('crm_lookup_order', { order_id: id })).output).toMatchObject({ status: 'shipped' });
      expect(tokens.issued).toBe(1);
      tokens.revokeAll();
      expect((await c.run('crm_lookup_order', { order_id: '4' })).output).toMatchObject({ status: 'shipped' });
      expect(tokens.issued).toBe(2);
      const all = log.text() + c.log.text();
      expect(all).not.toContain(CLIENT_SECRET);
      expect(all).not.toMatch(/tok-\d+-/);
    },
  );

  it('oauth2: the token URL gets the SSRF check at connect time even when the MCP host is allow-listed', async () => {
    const tokens = await tokenServer();
    const s = await server('streamable_http', { auth: { tokens } });
    const log = captureLogger();
    const auth = {
      kind: 'oauth2_client_credentials',
      token_url: 'https://tokens.example.test/token',
      client_id_env: 'MCP_CLIENT_ID',
      client_secret_env: 'MCP_CLIENT_SECRET',
    };
    const m = McpManager.create(
      [{ id: 'support', tools: [], mcp_servers: [serverConfig(s.url, 'streamable_http', { auth })] }],
      {
        env,
        allowHosts: ['127.0.0.1'],
        logger: log.logger,
        reconnect: { initialMs: 50, maxMs: 300 },
        // A name that resolves to loopback: what a rebinding or internal DNS answer looks like.
        resolver: async () => [{ address: '127.0.0.1', family: 4 }],
      },
    );
    cleanups.push(() => m.close());
    await m.whenSettled(10_000);
    expect(names(m.toolSetFor('support', undefined))).toEqual([]);
    expect(tokens.issued).toBe(0);
    expect(s.unauthorized).toBe(0);
    expect(log.text()).toContain('token endpoint refused by the SSRF policy: address is loopback');
  });

  it('oauth2: a token close to expiry is renewed before it is used', async () => {
    const tokens = await tokenServer(2); // renewed at 90 % of 2 s
    const s = await server('streamable_http', { auth: { tokens } });
    const auth = {
      kind: 'oauth2_client_credentials',
      token_url: tokens.url,
      client_id_env: 'MCP_CLIENT_ID',
      client_secret_env: 'MCP_CLIENT_SECRET',
    };
    const { m } = manager([serverConfig(s.url, 'streamable_http', { auth })]);
    await m.whenSettled(10_000);
    const before = tokens.issued;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await call(m).run('crm_echo', { text: 'x' })).output).toBe('x\ndone');
    expect(tokens.issued).toBe(before + 1);
    expect(s.unauthorized).toBe(0);
  });
});

describe('a hostile MCP server', () => {
  const tool = (name: unknown, inputSchema: unknown = { type: 'object' }) => ({ name, description: 'x', inputSchema });

  it('a huge tool list is cut at the bounds, counted and logged once; the bridge keeps its other tools', async () => {
    const pages = Array.from({ length: 20 }, (_, p) => Array.from({ length: 500 }, (_, i) => tool(`t${p}_${i}`)));
    const h = await startHostileServer({ pages });
    cleanups.push(() => h.close());
    const { m, log } = manager([serverConfig(h.url, 'streamable_http', { prefix: 'h_' })]);
    await m.whenSettled(20_000);
    const listed = names(m.toolSetFor('support', undefined));
    expect(listed.length).toBe(128);
    expect(log.text()).toContain('MCP tools refused');
    expect(log.text()).toMatch(/too_many/);
  });

  it('schemas that are not objects and names with odd characters are refused one by one', async () => {
    const h = await startHostileServer({
      pages: [
        [
          tool('good_tool'),
          tool('not_object', { type: 'string' }),
          tool('array_schema', [1, 2]),
          tool('no_schema', null),
          tool('bad name'),
          tool('nul\u0000byte'),
          tool('💥'),
          tool(42),
          'not a tool at all',
          tool('x'.repeat(200)),
          tool('broken_schema', { type: 'object', properties: { a: { type: 'no-such-type' } } }),
        ],
      ],
    });
    cleanups.push(() => h.close());
    const { m, log } = manager([serverConfig(h.url, 'streamable_http', { prefix: 'h_' })]);
    await m.whenSettled(10_000);
    expect(names(m.toolSetFor('support', undefined))).toEqual(['h_good_tool']);
    const text = log.text();
    expect(text).toContain('MCP tools refused');
    expect(text).toMatch(/"bad_schema":4/);
    expect(text).toMatch(/"bad_name":5/);
    expect(text).not.toContain('\\u0000');
  });

  it('a 50 MB result: cut at the transport, a structured error, bounded memory, the session comes back', async () => {
    const h = await startHostileServer({ pages: [[tool('flood')]], resultBytes: 50 * 1024 * 1024 });
    cleanups.push(() => h.close());
    const { m, log } = manager([serverConfig(h.url, 'streamable_http', { prefix: 'h_', timeout_ms: 15_000 })]);
    await m.whenSettled(10_000);
    const c = call(m, 15_000);
    const mem = (): number => {
      const u = process.memoryUsage();
      return u.heapUsed + u.arrayBuffers;
    };
    const before = mem();
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, mem());
    }, 5);
    const answer = await c.run('h_flood');
    clearInterval(sampler);
    expect(answer.output).toEqual({ error: 'tool_failed', message: 'MCP server sent a message over 4194304 bytes' });
    expect(h.bytesSent()).toBeLessThan(20 * 1024 * 1024);
    expect(peak - before).toBeLessThan(48 * 1024 * 1024);
    expect(log.text()).toContain('response dropped, session reset');
    await until('tools back after the reset', () => names(m.toolSetFor('support', undefined)).includes('h_flood'));
  });
});
