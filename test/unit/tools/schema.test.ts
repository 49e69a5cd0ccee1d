import { describe, expect, it } from 'vitest';
import { assertUniqueToolNames, toolDefinitionSchema } from '../../../src/tools/schema.js';

const base = {
  name: 'get_order_status',
  description: 'Look up an order',
  parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
  side_effect: 'read',
  executor: { kind: 'module', module: './tools/get_order_status.ts' },
};

const issues = (input: unknown): string[] => {
  const r = toolDefinitionSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('toolDefinitionSchema', () => {
  it('parses a module tool and defaults timeout_ms to 5000', () => {
    const def = toolDefinitionSchema.parse(base);
    expect(def.timeout_ms).toBe(5000);
    expect(def.executor).toEqual({ kind: 'module', module: './tools/get_order_status.ts' });
  });

  it('parses an http tool and defaults the method to POST', () => {
    const def = toolDefinitionSchema.parse({
      ...base,
      executor: {
        kind: 'http',
        url: 'https://hooks.example.com/orders',
        auth_header: 'Authorization',
        auth_secret_env: 'ORDERS_TOKEN',
        signing_secret_env: 'ORDERS_SIGNING',
        headers: { 'X-Tenant': 'acme' },
      },
    });
    expect(def.executor).toMatchObject({ kind: 'http', method: 'POST' });
  });

  it.each([
    [{ ...base, timeout_ms: 99 }, 'timeout_ms'],
    [{ ...base, timeout_ms: 15001 }, 'timeout_ms'],
    [{ ...base, timeout_ms: 1000.5 }, 'timeout_ms'],
    [{ ...base, name: 'GetOrder' }, 'name'],
    [{ ...base, name: '1order' }, 'name'],
    [{ ...base, name: 'a'.repeat(65) }, 'name'],
    [{ ...base, side_effect: undefined }, 'side_effect'],
    [{ ...base, side_effect: 'write' }, 'side_effect'],
    [{ ...base, parameters: { type: 'string' } }, 'parameters'],
    [{ ...base, description: '   ' }, 'description'],
    [{ ...base, extra: 1 }, ''],
    [{ ...base, executor: { kind: 'lambda' } }, 'executor'],
    [
      {
        ...base,
        executor: { kind: 'http', url: 'https://x.example', signing_secret_env: 'S', auth_header: 'Authorization' },
      },
      'executor.auth_header',
    ],
    [
      { ...base, executor: { kind: 'http', url: 'https://x.example', headers: { 'X-Bridge-Signature': 'forged' } } },
      'executor.headers',
    ],
    [
      { ...base, executor: { kind: 'http', url: 'https://x.example', headers: { 'X-Ok': 'a\r\nInjected: 1' } } },
      'executor.headers',
    ],
    [
      { ...base, executor: { kind: 'http', url: 'https://x.example', headers: { 'Bad Name': 'v' } } },
      'executor.headers',
    ],
    [{ ...base, executor: { kind: 'http', url: 'https://x.example', method: 'DELETE' } }, 'executor.method'],
    [
      { ...base, executor: { kind: 'http', url: 'https://x.example', signing_secret_env: 'has-dash' } },
      'executor.signing_secret_env',
    ],
    [{ ...base, executor: { kind: 'http', url: 'https://x.example' } }, 'executor.signing_secret_env'],
  ])('rejects %j (at %s)', (input, path) => {
    const found = issues(input);
    expect(found.length).toBeGreaterThan(0);
    expect(found.some((i) => i.startsWith(`${path}`))).toBe(true);
  });

  it('finds duplicate tool names', () => {
    expect(() => assertUniqueToolNames([{ name: 'a' }, { name: 'b' }])).not.toThrow();
    expect(() => assertUniqueToolNames([{ name: 'a' }, { name: 'b' }, { name: 'a' }])).toThrow(
      'duplicate tool name(s): a',
    );
  });
});
