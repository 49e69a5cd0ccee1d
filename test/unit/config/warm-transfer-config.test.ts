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
