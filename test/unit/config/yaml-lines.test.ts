import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../../src/config/loader.js';

/** A configuration whose line 5 holds the mistake, and more lines after it. */
const withLine5 = (line5: string) =>
  [
    'default_agent: support',
    'agents:',
    '  - id: support',
    '    persona: You help.',
    line5,
    '    voice_id: ada',
    '    tools: []',
    '',
  ].join('\n');

function messageOf(text: string): string {
  try {
    parseConfigText(text, 'agents.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration errors point at the line of the mistake', () => {
  it('an unclosed quote on line 5 names line 5, though the parser only notices at the end of the file', () => {
    const msg = messageOf(withLine5("    greeting: 'Hello, how can I help"));
    expect(msg).toMatch(/opens on line 5 is never closed/);
  });

  it('an unclosed double quote is found the same way (an escaped quote does not close it)', () => {
    const msg = messageOf(withLine5('    greeting: "Say \\"hi\\"'));
    expect(msg).toMatch(/opens on line 5 is never closed/);
  });

  it('a closed quote with an escaped quote inside is not a mistake', () => {
    expect(() => parseConfigText(withLine5("    greeting: 'It''s Ada'"))).not.toThrow();
  });

  it('a misspelt key on line 5 is reported with line 5 and the key it was meant to be', () => {
    const msg = messageOf(withLine5('    greting: Hello'));
    expect(msg).toMatch(/agents\.0\.greting: unknown key; did you mean greeting\? \(line 5\)/);
  });

  it('a value of the wrong type names the line of its key', () => {
    const msg = messageOf(withLine5('    greeting: { a: 1 }'));
    expect(msg).toMatch(/agents\.0\.greeting: .* \(line 5\)/);
  });

  it('a number routed to an unknown agent names the line and the agent it was probably meant to be', () => {
    const msg = messageOf(`${withLine5('    greeting: Hi')}numbers:\n  '+15550001111': { agent: suport }\n`);
    expect(msg).toMatch(
      /numbers\.\+15550001111: routes to unknown agent "suport"; did you mean "support"\? \(line 9\)/,
    );
  });
});
