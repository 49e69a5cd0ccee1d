import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../src/config/loader.js';
import { fillWhisper } from '../../../src/control/whisper.js';
import { parseWhisper } from '../../../src/config/whisper-template.js';

const config = (target: string) => `
default_agent: a
agents:
  - id: a
    persona: You help.
    transfer:
      targets:
        - ${target}
      default: desk
`;

function errorOf(text: string): string {
  try {
    parseConfigText(text, 'warm.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
}

const WARM = `{ name: desk, kind: number, value: "+15550100200", mode: warm, whisper: "Caller {from_masked} about {reason}. Account {account_number}.", fields: [account_number], accept_key: "1", ring_timeout_s: 15 }`;

describe('warm transfer configuration', () => {
  it('a warm target with a whisper, declared fields, an accept key and a ring timeout is accepted', () => {
    const t = parseConfigText(config(WARM)).agents[0]!.transfer.targets[0]!;
    expect(t).toMatchObject({ mode: 'warm', accept_key: '1', ring_timeout_s: 15, fields: ['account_number'] });
  });

  it('a target without mode stays cold', () => {
    const t = parseConfigText(config('{ name: desk, kind: number, value: "+15550100200" }')).agents[0]!.transfer
      .targets[0]!;
    expect(t.mode).toBeUndefined();
  });

  it.each([
    [
      'an unknown placeholder, named with the field and the fix',
      WARM.replace('{account_number}', '{acount_number}'),
      /agents\.0\.transfer\.targets\.0\.whisper: unknown placeholder \{acount_number\}: use one of from_masked, reason.*list the argument or collect field in this target's fields/,
    ],
    [
      'an unclosed brace',
      WARM.replace('{reason}', '{reason'),
      /targets\.0\.whisper: .*"\{reason\}" is not a placeholder name|never closed|not a placeholder/,
    ],
    [
      'an accept key of two keys',
      WARM.replace('accept_key: "1"', 'accept_key: "12"'),
      /targets\.0\.accept_key: one key/,
    ],
    [
      'a ring timeout out of range',
      WARM.replace('ring_timeout_s: 15', 'ring_timeout_s: 1'),
      /targets\.0\.ring_timeout_s/,
    ],
    [
      'a whisper on a cold target',
      '{ name: desk, kind: number, value: "+15550100200", whisper: "Hi" }',
      /targets\.0\.whisper: only a warm target has whisper; add mode: warm/,
    ],
    [
      'a warm queue target',
      '{ name: desk, kind: queue, value: support, mode: warm }',
      /targets\.0\.mode: a queue target cannot be warm/,
    ],
    [
      'a typo in a warm key',
      WARM.replace('accept_key', 'acept_key'),
      /acept_key: unknown key; did you mean accept_key\?/,
    ],
  ])('refuses %s', (_name, target, message) => {
    expect(errorOf(config(target))).toMatch(message);
  });
});

describe('whisper filling', () => {
  const target = parseConfigText(config(WARM)).agents[0]!.transfer.targets[0]!;
  const base = {
    agent: 'a',
    target: 'desk',
    from: '+15557654321',
    reason: 'billing',
    collected: new Map<string, string>(),
    turns: [],
  };

  it('fills the masked caller, the reason and a field from the arguments', () => {
    expect(fillWhisper(target, { ...base, args: { account_number: '482913' } })).toBe(
      'Caller ending in 4321 about billing. Account 482913.',
    );
  });

  it('a collect result wins over an argument of the same name; a missing one reads "not given"', () => {
    const collected = new Map([['account_number', '111222']]);
    expect(fillWhisper(target, { ...base, collected, args: { account_number: '999' } })).toContain('Account 111222.');
    expect(fillWhisper(target, { ...base, reason: undefined })).toBe(
      'Caller ending in 4321 about not given. Account not given.',
    );
  });

  it('never shows the full caller number', () => {
    expect(fillWhisper(target, base)).not.toContain('5557654321');
  });

  it('braces doubled are literal; a lone one is refused', () => {
    expect(parseWhisper('{{x}}')).toEqual({ pieces: [{ text: '{x}' }] });
    expect(parseWhisper('a } b')).toHaveProperty('error');
  });
});

describe('transfer context webhook configuration', () => {
  const withHook = (hook: string, bridge = '') => `
default_agent: a
agents:
  - id: a
    persona: You help.
    transfer:
      targets:
        - { name: desk, kind: number, value: "+15550100200" }
      context_webhook: ${hook}
${bridge}`;

  it('an https URL and a TOOL_SECRET_ signing variable are accepted, with bounded defaults', () => {
    const hook = parseConfigText(
      withHook('{ url: "https://desk.example.com/context", signing_secret_env: TOOL_SECRET_DESK }'),
    ).agents[0]!.transfer.context_webhook!;
    expect(hook).toEqual({
      url: 'https://desk.example.com/context',
      signing_secret_env: 'TOOL_SECRET_DESK',
      timeout_ms: 2000,
      retries: 2,
    });
  });

  it.each([
    [
      'plain http',
      '{ url: "http://desk.example.com/c", signing_secret_env: TOOL_SECRET_DESK }',
      /scheme must be https/,
    ],
    [
      'a loopback address',
      '{ url: "https://127.0.0.1/c", signing_secret_env: TOOL_SECRET_DESK }',
      /context_webhook\.url: refused: address is loopback/,
    ],
    [
      'the cloud metadata address',
      '{ url: "https://169.254.169.254/latest", signing_secret_env: TOOL_SECRET_DESK }',
      /address is metadata/,
    ],
    [
      'credentials in the URL',
      '{ url: "https://u:p@desk.example.com/c", signing_secret_env: TOOL_SECRET_DESK }',
      /credentials in the URL/,
    ],
    [
      'one of the bridge’s own secrets as the signing secret',
      '{ url: "https://desk.example.com/c", signing_secret_env: TWILIO_AUTH_TOKEN }',
      /signing_secret_env: names TWILIO_AUTH_TOKEN, one of the bridge's own secrets/,
    ],
    [
      'retries without bound',
      '{ url: "https://desk.example.com/c", signing_secret_env: TOOL_SECRET_DESK, retries: 50 }',
      /context_webhook\.retries/,
    ],
  ])('refuses %s', (_name, hook, message) => {
    expect(errorOf(withHook(hook))).toMatch(message);
  });

  it('a development host on http is accepted only when allow-listed (bridge.tool_allow_hosts)', () => {
    const hook = '{ url: "http://127.0.0.1:8080/c", signing_secret_env: TOOL_SECRET_DESK }';
    expect(errorOf(withHook(hook))).toMatch(/scheme must be https/);
    expect(() => parseConfigText(withHook(hook, 'bridge: { tool_allow_hosts: ["127.0.0.1"] }'))).not.toThrow();
  });

  it('the error never quotes the URL (its query may hold a token)', () => {
    expect(
      errorOf(withHook('{ url: "http://desk.example.com/c?token=s3cr3t", signing_secret_env: TOOL_SECRET_DESK }')),
    ).not.toContain('s3cr3t');
  });
});
