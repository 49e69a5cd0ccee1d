import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  loadEnv,
  parseConfigText,
  collectSecrets,
} from '../../../src/config/loader.js';

const minimal = `
default_agent: a
agents:
  - id: a
    persona: You help.
`;

describe('configuration', () => {
  it('loads the shipped example configuration with defaults filled in', () => {
    const cfg = parseConfigText(readFileSync(DEFAULT_CONFIG_PATH, 'utf8'));
    expect(cfg.agents.map((a) => a.id)).toContain('support');
    expect(cfg.bridge.preconnect.enabled).toBe(true);
    const support = cfg.agents.find((a) => a.id === 'support')!;
    expect(support.tools.map((t) => t.name)).toEqual(['get_order_status', 'create_support_ticket']);
    expect(support.transfer.timeout_s).toBe(25);
  });

  it('fills nested defaults for a minimal file', () => {
    const cfg = parseConfigText(minimal);
    expect(cfg.bridge.tool_ceiling_ms).toBe(5000);
    expect(cfg.bridge.preconnect.stream_timeout_ms).toBe(10000);
    expect(cfg.agents[0]!.transfer.on_no_answer).toBe('back_to_agent');
    expect(cfg.agents[0]!.fallback.action).toBe('hangup');
    expect(cfg.agents[0]!.dtmf_shortcuts).toEqual({});
  });

  it('names the field and the fix for an invalid agent', () => {
    const bad = minimal.replace('persona: You help.', 'persona: ""');
    expect(() => parseConfigText(bad, 'x.yaml')).toThrow(/agents\.0\.persona: the agent needs a persona/);
  });

  it('refuses a default agent that does not exist', () => {
    expect(() => parseConfigText(minimal.replace('default_agent: a', 'default_agent: zz'))).toThrow(
      /default_agent: no agent has id "zz"/,
    );
  });

  it('refuses a number routed to an unknown agent and a non-E.164 number', () => {
    expect(() => parseConfigText(`${minimal}\nnumbers:\n  "+15550001111": { agent: nobody }\n`)).toThrow(
      /unknown agent "nobody"/,
    );
    expect(() => parseConfigText(`${minimal}\nnumbers:\n  "5550001111": { agent: a }\n`)).toThrow(/E\.164/);
  });

  it('an agent id one typo away from a defined one gets a "did you mean", in numbers and default_agent', () => {
    const two = `${minimal}  - id: support\n    persona: You help.\n`;
    expect(() => parseConfigText(`${two}\nnumbers:\n  "+15550001111": { agent: suport }\n`)).toThrow(
      /unknown agent "suport"; did you mean "support"\?/,
    );
    expect(() => parseConfigText(two.replace('default_agent: a', 'default_agent: supprt'))).toThrow(
      /no agent has id "supprt"; did you mean "support"\?/,
    );
    expect(() => parseConfigText(`${two}\nnumbers:\n  "+15550001111": { agent: billing }\n`)).toThrow(
      /unknown agent "billing" \(line \d+\)$/m,
    );
  });

  it('refuses a transfer default that is not one of the targets', () => {
    const text = `${minimal}    transfer:\n      targets: [{ name: x, kind: number, value: "+15550100200" }]\n      default: y\n`;
    expect(() => parseConfigText(text)).toThrow(/transfer\.default: "y" is not one of/);
  });

  it('refuses duplicate tool names within an agent', () => {
    const tool = `      - name: t\n        description: d\n        side_effect: read\n        parameters: { type: object }\n        executor: { kind: module, module: ./x.ts }\n`;
    expect(() => parseConfigText(`${minimal}    tools:\n${tool}${tool}`)).toThrow(/duplicate tool name "t"/);
  });

  it('reports YAML syntax errors as configuration errors', () => {
    expect(() => parseConfigText('agents: [', 'broken.yaml')).toThrow(ConfigError);
  });

  it('reads deployment settings from the environment with readable errors', () => {
    const env = loadEnv({ PORT: '9000', OMNI_RATE: '16000', PUBLIC_URL: 'https://bridge.example.com/' });
    expect(env.port).toBe(9000);
    expect(env.omniRate).toBe(16000);
    expect(env.publicUrl).toBe('https://bridge.example.com');
    expect(() => loadEnv({ OMNI_RATE: '44100' })).toThrow(/OMNI_RATE must be one of 8000, 16000, 24000/);
    expect(() => loadEnv({ PUBLIC_URL: 'https://x.example.com/path' })).toThrow(/PUBLIC_URL/);
    expect(() => loadEnv({ TWILIO_ACCOUNT_SID: 'nope' })).toThrow(/TWILIO_ACCOUNT_SID/);
    expect(() => loadEnv({ PORT: 'abc' })).toThrow(/PORT/);
  });

  it('uses the shipped example when BRIDGE_CONFIG is unset and names a missing file', () => {
    expect(loadConfig({}).file.default_agent).toBe('support');
    expect(() => loadConfig({ BRIDGE_CONFIG: '/nonexistent/agents.yaml' })).toThrow(/cannot read BRIDGE_CONFIG file/);
  });

  it('collects configured secrets so the logger can scrub them', () => {
    const cfg = loadConfig({ PYAI_API_KEY: 'pyai-secret-123456', TWILIO_AUTH_TOKEN: 'tok-secret-abcdef' });
    const secrets = collectSecrets(cfg, {});
    expect(secrets).toContain('pyai-secret-123456');
    expect(secrets).toContain('tok-secret-abcdef');
  });

  it("collects REDIS_URL's password (decoded), and nothing from a REDIS_URL without one", () => {
    const cfg = loadConfig({});
    expect(collectSecrets(cfg, { REDIS_URL: 'redis://default:p%40ss-w0rd@redis:6379/0' })).toContain('p@ss-w0rd');
    expect(collectSecrets(cfg, { REDIS_URL: 'redis://redis:6379' })).toEqual(collectSecrets(cfg, {}));
  });
});
