import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../src/config/loader.js';

const config = (server: string): string => `
default_agent: a
agents:
  - id: a
    persona: p
    mcp_servers:
      - ${server}
`;

function message(text: string): string {
  try {
    parseConfigText(text, 'mcp.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('mcp_servers configuration', () => {
  it('takes a full server entry with its defaults', () => {
    const file = parseConfigText(
      config(
        '{ name: crm, url: "https://crm.example.com/mcp", prefix: crm_, auth: { kind: bearer, secret_env: TOOL_SECRET_CRM_TOKEN } }',
      ),
    );
    expect(file.agents[0]!.mcp_servers[0]).toMatchObject({
      name: 'crm',
      transport: 'streamable_http',
      timeout_ms: 5000,
      side_effect: 'action',
      tools: { deny: [] },
      refresh_s: 300,
    });
  });

  it('refuses an unknown key with a suggestion, naming where it is', () => {
    expect(message(config('{ name: crm, url: "https://x.example/mcp", prefx: crm_ }'))).toMatch(
      /mcp_servers\.0\.prefx: unknown key; did you mean prefix\?/,
    );
    expect(
      message(config('{ name: crm, url: "https://x.example/mcp", auth: { kind: bearer, secret_env: T, scope: x } }')),
    ).toMatch(/mcp_servers\.0\.auth\.scope: unknown key/);
  });

  it('refuses a bad transport, auth kind, name or prefix, and duplicate server names', () => {
    expect(message(config('{ name: crm, url: "https://x.example/mcp", transport: websocket }'))).toMatch(
      /mcp_servers\.0\.transport/,
    );
    expect(message(config('{ name: crm, url: "https://x.example/mcp", auth: { kind: basic } }'))).toMatch(
      /mcp_servers\.0\.auth/,
    );
    expect(message(config('{ name: "CRM!", url: "https://x.example/mcp" }'))).toMatch(/mcp_servers\.0\.name/);
    expect(message(config('{ name: crm, url: "https://x.example/mcp", prefix: "9x" }'))).toMatch(
      /mcp_servers\.0\.prefix/,
    );
    const twice = config(
      '{ name: crm, url: "https://x.example/mcp" }\n      - { name: crm, url: "https://y.example/mcp" }',
    );
    expect(message(twice)).toMatch(/duplicate MCP server name "crm"/);
  });
});
