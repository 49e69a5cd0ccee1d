import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../src/config/loader.js';
import { BRIDGE_SECRET_VARS, CONFIG_SECRET_PREFIX } from '../../../src/config/secret-names.js';

/** An agent with one webhook tool, one MCP server and a knowledge base, each naming a variable. */
function config(names: { auth?: string; signing?: string; kb?: string; bearer?: string; clientId?: string }): string {
  return JSON.stringify({
    default_agent: 'a',
    agents: [
      {
        id: 'a',
        persona: 'You help.',
        kb_endpoint: 'https://kb.example.com/',
        kb_token_env: names.kb ?? 'TOOL_SECRET_KB',
        tools: [
          {
            name: 'look_up',
            description: 'd',
            side_effect: 'read',
            parameters: { type: 'object', properties: { region_env: { type: 'string' } } },
            executor: {
              kind: 'http',
              url: 'https://hooks.example.com/t',
              auth_header: 'Authorization',
              auth_secret_env: names.auth ?? 'TOOL_SECRET_HOOK_AUTH',
              signing_secret_env: names.signing ?? 'TOOL_SECRET_HOOK_SIGNING',
            },
          },
        ],
        mcp_servers: [
          {
            name: 'crm',
            url: 'https://crm.example.com/mcp',
            auth: { kind: 'bearer', secret_env: names.bearer ?? 'TOOL_SECRET_CRM' },
          },
          {
            name: 'erp',
            url: 'https://erp.example.com/mcp',
            auth: {
              kind: 'oauth2_client_credentials',
              token_url: 'https://erp.example.com/token',
              client_id_env: names.clientId ?? 'TOOL_SECRET_ERP_ID',
              client_secret_env: 'TOOL_SECRET_ERP_SECRET',
            },
          },
        ],
      },
    ],
  });
}

function refusal(text: string): string {
  try {
    parseConfigText(text, 'agents.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

describe('variables the configuration file may name (*_env)', () => {
  it('accepts TOOL_SECRET_ names in every *_env field', () => {
    expect(parseConfigText(config({})).agents[0]!.kb_token_env).toBe('TOOL_SECRET_KB');
  });

  it("refuses each of the bridge's own secrets in each *_env field, naming the field and the fix", () => {
    const fields = {
      auth: 'agents.0.tools.0.executor.auth_secret_env',
      signing: 'agents.0.tools.0.executor.signing_secret_env',
      kb: 'agents.0.kb_token_env',
      bearer: 'agents.0.mcp_servers.0.auth.secret_env',
      clientId: 'agents.0.mcp_servers.1.auth.client_id_env',
    } as const;
    for (const secret of BRIDGE_SECRET_VARS) {
      for (const [key, field] of Object.entries(fields)) {
        const msg = refusal(config({ [key]: secret }));
        expect(msg).toContain(`${field}: names ${secret}, one of the bridge's own secrets`);
        expect(msg).toContain(CONFIG_SECRET_PREFIX);
      }
    }
    // case does not dodge the deny-list (Windows environments are case-insensitive)
    expect(refusal(config({ auth: 'twilio_auth_token' }))).toContain("one of the bridge's own secrets");
  });

  it('refuses any other variable without the prefix: the process environment holds more than our secrets', () => {
    for (const other of ['AWS_SECRET_ACCESS_KEY', 'HOME', 'ORDER_HOOK_TOKEN', 'tool_secret_x']) {
      const msg = refusal(config({ auth: other }));
      expect(msg).toContain(
        `agents.0.tools.0.executor.auth_secret_env: must name a variable starting with TOOL_SECRET_ (rename ${other} to TOOL_SECRET_${other})`,
      );
    }
  });
});
