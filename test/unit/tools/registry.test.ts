import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ToolRegistry } from '../../../src/tools/registry.js';
import { at } from '../../helpers/checked.js';
import type { ToolDefinition, ToolHandler } from '../../../src/tools/types.js';
import { captureLogger, FIXTURES, moduleTool } from './helpers.js';

const CONFIG_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../config');

const http = (name: string, url: string, extra: Partial<ToolDefinition['executor']> = {}): ToolDefinition => ({
  name,
  description: 'webhook',
  parameters: { type: 'object' },
  timeout_ms: 1000,
  side_effect: 'read',
  executor: { kind: 'http', url, method: 'POST', ...extra } as ToolDefinition['executor'],
});

async function loadError(defs: ToolDefinition[], env: NodeJS.ProcessEnv = {}, allowHosts?: string[]): Promise<string> {
  const log = captureLogger();
  try {
    const r = await ToolRegistry.load(defs, { baseDir: FIXTURES, env, allowHosts, logger: log.logger });
    r.close();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected load to fail');
}

describe('ToolRegistry.load', () => {
  it('loads the example tools and lists them for configure.tools', async () => {
    const log = captureLogger();
    const defs: ToolDefinition[] = [
      {
        name: 'get_order_status',
        description: 'Look up an order',
        parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
        timeout_ms: 3000,
        side_effect: 'read',
        executor: { kind: 'module', module: './tools/get_order_status.js' },
      },
      {
        name: 'create_support_ticket',
        description: 'Open a ticket',
        parameters: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] },
        timeout_ms: 5000,
        side_effect: 'action',
        executor: { kind: 'module', module: './tools/create_support_ticket.js' },
      },
    ];
    const registry = await ToolRegistry.load(defs, { baseDir: CONFIG_DIR, env: {}, logger: log.logger });
    expect(registry.definitionsForEngine()).toEqual(
      defs.map(({ name, description, parameters }) => ({ name, description, parameters })),
    );
    expect(registry.get('get_order_status')?.definition.side_effect).toBe('read');
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.get('get_order_status')!.validate({})).toEqual([
      { path: '/', message: "must have required property 'order_id'" },
    ]);
    registry.close();
  });

  it('reports every problem at once, naming env vars but never printing secret values or URLs', async () => {
    const message = await loadError(
      [
        http('a_hook', 'https://hooks.example.com/a?token=qs-token-123', {
          auth_header: 'Authorization',
          auth_secret_env: 'A_TOKEN',
          signing_secret_env: 'A_SIGNING',
        }),
        http('b_hook', 'https://10.0.0.7/b?token=qs-token-123'),
        http('c_hook', 'http://hooks.example.com/c'),
        moduleTool('d_tool', 'notAFunction'),
        moduleTool('e_tool', 'echo', { executor: { kind: 'module', module: 'missing-file.ts' } }),
        moduleTool('f_tool', 'echo', { parameters: { type: 'object', properties: { x: { type: 'strnig' } } } }),
        moduleTool('g_tool', 'echo', { parameters: { type: 'object', requried: ['x'] } }),
      ],
      { A_SIGNING: 'super-signing-secret' },
    );
    expect(message).toContain('tool "a_hook": environment variable A_TOKEN (auth secret) is not set');
    expect(message).toContain('tool "b_hook": webhook URL refused: address is private');
    expect(message).toContain('tool "c_hook": webhook URL refused: scheme must be https');
    expect(message).toContain('tool "d_tool": module tools.ts has no function export "notAFunction"');
    expect(message).toContain('tool "e_tool": cannot import module missing-file.ts');
    expect(message).toContain('tool "f_tool": parameters is not a valid JSON Schema');
    expect(message).toContain('tool "g_tool": parameters is not a valid JSON Schema');
    expect(message).not.toContain('super-signing-secret');
    expect(message).not.toContain('qs-token-123');
  });

  it('accepts a parameters schema that names a $schema draft', async () => {
    const log = captureLogger();
    const parameters = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { q: { type: 'string', format: 'email' } },
    };
    const registry = await ToolRegistry.load([moduleTool('a_tool', 'echo', { parameters })], {
      baseDir: FIXTURES,
      env: {},
      logger: log.logger,
    });
    expect(registry.get('a_tool')!.validate({ q: 1 })).toEqual([{ path: '/q', message: 'must be string' }]);
    expect(at(registry.definitionsForEngine(), 0, 'definitions').parameters).toBe(parameters);
    registry.close();
  });

  it('refuses an auth secret that would break the header', async () => {
    const message = await loadError(
      [http('a_hook', 'https://hooks.example.com/a', { auth_header: 'Authorization', auth_secret_env: 'A_TOKEN' })],
      { A_TOKEN: 'Bearer abc\r\nX-Evil: 1' },
    );
    expect(message).toContain('environment variable A_TOKEN contains characters not allowed in a header');
    expect(message).not.toContain('abc');
  });

  it('logs the dev allow-list at start-up', async () => {
    const log = captureLogger();
    const registry = await ToolRegistry.load([http('a_hook', 'http://127.0.0.1:9/a')], {
      baseDir: FIXTURES,
      env: {},
      allowHosts: ['127.0.0.1', 'LOCALHOST', '[::1]'],
      logger: log.logger,
    });
    const text = log.text();
    expect(text).toContain('dev allow-list active');
    expect(text).toContain('"allowHosts":["127.0.0.1","localhost","::1"]');
    registry.close();
  });
});

/** The shipped tools are plain JavaScript (production imports them under plain node); typed here by their contract. */
const exampleTool = async (file: string) =>
  ((await import(path.join(CONFIG_DIR, 'tools', file))) as { default: ToolHandler }).default;

describe('example tools', () => {
  it('get_order_status finds order 4417 and reports unknown orders as not_found', async () => {
    const getOrderStatus = await exampleTool('get_order_status.js');
    const ctx = { callSid: 'CA1', agentId: 'a', toolCallId: 't1', signal: new AbortController().signal };
    expect(await getOrderStatus({ order_id: '4417' }, ctx)).toMatchObject({
      order_id: '4417',
      status: 'shipped',
      arriving: 'Thursday',
    });
    expect(await getOrderStatus({ order_id: '# 44 17' }, ctx)).toMatchObject({ status: 'shipped' });
    expect(await getOrderStatus({ order_id: '9999' }, ctx)).toEqual({ order_id: '9999', status: 'not_found' });
  });

  it('create_support_ticket returns a ticket id, the same one for a repeated delivery', async () => {
    const createTicket = await exampleTool('create_support_ticket.js');
    const ctx = { callSid: 'CA1', agentId: 'a', toolCallId: 't1', signal: new AbortController().signal };
    const first = (await createTicket({ summary: 'Parcel damaged' }, ctx)) as { ticket_id: string };
    expect(first.ticket_id).toMatch(/^T-\d{6}$/);
    expect(await createTicket({ summary: 'Parcel damaged' }, ctx)).toEqual(first);
    const other = (await createTicket({ summary: 'Parcel damaged' }, { ...ctx, toolCallId: 't2' })) as {
      ticket_id: string;
    };
    expect(other.ticket_id).not.toBe(first.ticket_id);
  });
});
