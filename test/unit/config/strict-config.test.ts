import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, loadEnv, parseConfigText } from '../../../src/config/loader.js';
import { weakSecretProblem } from '../../../src/config/secret-strength.js';
import { closest, editDistance } from '../../../src/config/suggest.js';
import { loadScenario, parseScenario } from '../../../src/sim/engine/scenario.js';

const base = `
default_agent: a
agents:
  - id: a
    persona: You help.
    tools:
      - name: t
        description: d
        side_effect: read
        parameters: { type: object }
        executor: { kind: module, module: ./x.ts }
    transfer:
      targets: [{ name: desk, kind: number, value: "+15550100200" }]
      default: desk
numbers:
  "+15550002222":
    ivr:
      prompt: { say: "Press 1." }
      options: { "1": { agent: a } }
      default: { agent: a }
bridge:
  max_call_duration_s: 600
`;

function errorOf(text: string): string {
  try {
    parseConfigText(text, 'typo.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

describe('configuration typos', () => {
  it('the base file of these tests is valid', () => {
    expect(parseConfigText(base).agents[0]!.tools).toHaveLength(1);
  });

  it.each([
    [
      'a bridge key',
      base.replace('max_call_duration_s: 600', 'max_concurent_calls: 10'),
      'bridge.max_concurent_calls: unknown key; did you mean max_concurrent_calls?',
    ],
    [
      'a nested bridge key',
      base.replace('max_call_duration_s: 600', 'preconnect: { enabeld: false }'),
      'bridge.preconnect.enabeld: unknown key; did you mean enabled?',
    ],
    [
      'an agent key',
      base.replace('persona: You help.', 'persona: You help.\n    voice_idd: ada'),
      'agents.0.voice_idd: unknown key; did you mean voice_id?',
    ],
    [
      'a top-level key',
      base.replace('default_agent: a', 'default_agent: a\ndefault_agnet: a'),
      'default_agnet: unknown key; did you mean default_agent?',
    ],
    [
      'a tool key',
      base.replace('side_effect: read', 'side_effect: read\n        timeout: 3000'),
      'agents.0.tools.0.timeout: unknown key; did you mean timeout_ms?',
    ],
    [
      'a tool executor key',
      base.replace('module: ./x.ts }', 'module: ./x.ts, exprot: run }'),
      'agents.0.tools.0.executor.exprot: unknown key; did you mean export?',
    ],
    [
      'a transfer key',
      base.replace('default: desk', 'default: desk\n      timout_s: 20'),
      'agents.0.transfer.timout_s: unknown key; did you mean timeout_s?',
    ],
    [
      'a transfer target key',
      base.replace('kind: number, value:', 'kind: number, valeu: "+1", value:'),
      'agents.0.transfer.targets.0.valeu: unknown key; did you mean value?',
    ],
    [
      'an IVR key',
      base.replace('default: { agent: a }', 'default: { agent: a }\n      max_attempt: 2'),
      'numbers.+15550002222.ivr.max_attempt: unknown key; did you mean max_attempts?',
    ],
    [
      'an IVR option key',
      base.replace('options: { "1": { agent: a } }', 'options: { "1": { agnet: a } }'),
      'numbers.+15550002222.ivr.options.1.agnet: unknown key; did you mean agent?',
    ],
    [
      'a number route key',
      base.replace('    ivr:\n', '    agnet: a\n    ivr:\n'),
      'numbers.+15550002222.agnet: unknown key; did you mean agent?',
    ],
    [
      'an after_stream key',
      base.replace('max_call_duration_s: 600', 'after_stream: { dail: "+15550100200" }'),
      'bridge.after_stream.dail: unknown key; did you mean dial?',
    ],
    [
      'an outbound policy key',
      base.replace('max_call_duration_s: 600', 'outbound: { alow: ["+1555*"] }'),
      'bridge.outbound.alow: unknown key; did you mean allow?',
    ],
  ])('refuses %s, naming its path and the closest known key', (_what, text, line) => {
    expect(errorOf(text)).toContain(`  - ${line}`);
  });

  it('lists the known keys when no key is close', () => {
    const msg = errorOf(base.replace('max_call_duration_s: 600', 'max_call_duration_s: 600\n  zzzzzzzzzzzz: 1'));
    expect(msg).toMatch(/bridge\.zzzzzzzzzzzz: unknown key; expected one of: .*max_concurrent_calls/);
  });

  it('reports every unknown key of one object on its own line', () => {
    const msg = errorOf(base.replace('max_call_duration_s: 600', 'max_concurent_calls: 1\n  busy_mesage: hi'));
    expect(msg).toContain('bridge.max_concurent_calls: unknown key; did you mean max_concurrent_calls?');
    expect(msg).toContain('bridge.busy_mesage: unknown key; did you mean busy_message?');
  });

  it('an IVR option must still be exactly one of agent, transfer or hangup', () => {
    expect(
      errorOf(base.replace('options: { "1": { agent: a } }', 'options: { "1": { agent: a, hangup: true } }')),
    ).toContain('numbers.+15550002222.ivr.options.1: an option is exactly one of');
    const cfg = parseConfigText(
      base.replace('options: { "1": { agent: a } }', 'options: { "1": { hangup: true }, "2": { transfer: desk } }'),
    );
    expect(cfg.numbers['+15550002222']!.ivr!.options).toEqual({ '1': { hangup: true }, '2': { transfer: 'desk' } });
  });

  it('accepts every shipped configuration and the offline engine scenario', async () => {
    const dir = join(DEFAULT_CONFIG_PATH, '..');
    for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && n !== 'demo-scenario.yaml')) {
      expect(() => parseConfigText(readFileSync(join(dir, f), 'utf8'), f)).not.toThrow();
    }
    await expect(loadScenario(join(dir, 'demo-scenario.yaml'))).resolves.toMatchObject({ steps: expect.any(Array) });
  });

  it('the offline engine scenario refuses a typo with the closest known key', () => {
    expect(() => parseScenario({ steps: [{ say: 'hi', no_wiat: true }] }, 's.yaml')).toThrow(
      /steps\[0\]\.no_wiat: unknown key; did you mean no_wait\?/,
    );
    expect(() => parseScenario({ aftr: 'echo', steps: [{ say: 'hi' }] }, 's.yaml')).toThrow(
      /scenario\.aftr: unknown key; did you mean after\?/,
    );
  });

  it('suggests within a third of the word (two edits for short words), ignoring case and - vs _', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('MAX-CONCURRENT-CALLS', ['max_concurrent_calls', 'max_call_duration_s'])).toBe(
      'max_concurrent_calls',
    );
    expect(closest('persona', ['id', 'greeting'])).toBeUndefined();
  });
});

describe('environment variables with a fixed set of values', () => {
  it.each([
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")'],
    ['LOG_FORMAT', 'text', 'LOG_FORMAT must be one of json, pretty (got "text")'],
    ['OMNI_RATE', '44100', 'OMNI_RATE must be one of 8000, 16000, 24000 (got "44100")'],
    ['TWILIO_SIGNATURE_VALIDATION', 'disabled', 'TWILIO_SIGNATURE_VALIDATION must be one of on, off (got "disabled")'],
  ])('%s=%s is refused with the variable and its allowed values', (name, value, message) => {
    expect(() => loadEnv({ [name]: value })).toThrow(message);
  });

  it('accepts the allowed values in any case, and defaults when unset', () => {
    expect(
      loadEnv({ LOG_LEVEL: 'DEBUG', LOG_FORMAT: 'pretty', TWILIO_SIGNATURE_VALIDATION: 'Off', OMNI_RATE: '8000' }),
    ).toMatchObject({ logLevel: 'debug', logFormat: 'pretty', skipSignatureValidation: true, omniRate: 8000 });
    expect(loadEnv({})).toMatchObject({
      logLevel: 'info',
      logFormat: undefined,
      skipSignatureValidation: false,
      omniRate: 24000,
    });
  });
});

describe('secret length at start', () => {
  const PUBLIC = { PUBLIC_URL: 'https://bridge.example.com' };

  it('refuses an ADMIN_TOKEN without 128 bits of randomness on any PUBLIC_URL, naming the variable and the fix but not the value', () => {
    for (const weak of [
      'q7z',
      'a'.repeat(64),
      'abc123'.repeat(10),
      '0123456789abcdefghijklmnopqrstuvwxyz',
      'my-super-secret-admin-token-2024',
      'correcthorsebatterystaple',
    ])
      for (const url of ['https://bridge.example.com', 'http://127.0.0.1:8080']) {
        let msg = '';
        try {
          loadConfig({ PUBLIC_URL: url, ADMIN_TOKEN: weak });
        } catch (err) {
          msg = (err as Error).message;
        }
        expect(msg, `${weak.length}-character token on ${url}`).toMatch(/^ADMIN_TOKEN is too weak: /);
        expect(msg).toContain('openssl rand -hex 32');
        expect(msg).not.toContain(weak);
      }
  });

  it('accepts ADMIN_TOKENs made by openssl rand (hex 16 and 32, base64 24)', () => {
    const made = () => [
      randomBytes(16).toString('hex'),
      randomBytes(32).toString('hex'),
      randomBytes(24).toString('base64'),
    ];
    // The strength check over 600 random tokens (one loadConfig each costs a YAML and schema parse)…
    const refused = Array.from({ length: 200 }, made)
      .flat()
      .filter((token) => weakSecretProblem(token) !== undefined);
    expect(refused).toEqual([]);
    // …and start-up itself takes each kind as it is.
    for (const token of made()) expect(loadConfig({ ...PUBLIC, ADMIN_TOKEN: token }).env.adminToken).toBe(token);
  });

  it('refuses a short Twilio auth token, stream-token key and tool signing secret; a short Omni key under 8', () => {
    expect(() => loadConfig({ ...PUBLIC, TWILIO_AUTH_TOKEN: 'dev-token' })).toThrow(/^TWILIO_AUTH_TOKEN is too short/);
    expect(() => loadConfig({ ...PUBLIC, STREAM_TOKEN_SECRET: 'short-key' })).toThrow(
      /^STREAM_TOKEN_SECRET is too short/,
    );
    expect(() => loadConfig({ ...PUBLIC, PYAI_API_KEY: 'k-123' })).toThrow(/^PYAI_API_KEY is too short: at least 8/);
    const dir = mkdtempSync(join(tmpdir(), 'opb-secret-'));
    const file = join(dir, 'agents.yaml');
    writeFileSync(
      file,
      base.replace(
        'executor: { kind: module, module: ./x.ts }',
        'executor: { kind: http, url: "https://hooks.example.com/t", signing_secret_env: TOOL_SECRET_TEST_HOOK_SIGNING }',
      ),
    );
    expect(() => loadConfig({ ...PUBLIC, BRIDGE_CONFIG: file, TOOL_SECRET_TEST_HOOK_SIGNING: 'abcdef' })).toThrow(
      /^TOOL_SECRET_TEST_HOOK_SIGNING is too short/,
    );
    expect(
      loadConfig({ ...PUBLIC, BRIDGE_CONFIG: file, TOOL_SECRET_TEST_HOOK_SIGNING: 'a'.repeat(16) }).file.agents,
    ).toHaveLength(1);
  });

  it('accepts short secrets on a loopback PUBLIC_URL (the development recipe and the tests)', () => {
    for (const url of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', undefined]) {
      expect(
        loadConfig({ ...(url ? { PUBLIC_URL: url } : {}), TWILIO_AUTH_TOKEN: 'dev-token', STREAM_TOKEN_SECRET: 'q7z' })
          .env.streamTokenSecret,
      ).toBe('q7z');
    }
  });
});
