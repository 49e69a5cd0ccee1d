import { describe, expect, it } from 'vitest';
import { describeDiff, diffConfig, isEmptyDiff } from '../../../src/config/diff.js';
import { parseConfigText } from '../../../src/config/loader.js';
import { maskNumber } from '../../../src/observability/redact.js';

const base = {
  default_agent: 'support',
  agents: [
    { id: 'support', persona: 'You are Ada.', greeting: 'Hello.' },
    { id: 'sales', persona: 'You are Sam.' },
  ],
  numbers: { '+15550001111': { agent: 'support' }, '+15550002222': { agent: 'sales' } },
};
const parse = (o: unknown) => parseConfigText(JSON.stringify(o));

describe('the configuration diff of a reload', () => {
  it('is empty for the same file, whatever the key order', () => {
    const reordered = {
      numbers: base.numbers,
      agents: base.agents.map((a) => Object.fromEntries(Object.entries(a).reverse())),
      default_agent: 'support',
    };
    const d = diffConfig(parse(base), parse(reordered));
    expect(isEmptyDiff(d)).toBe(true);
    expect(describeDiff(d)).toBe('no change');
  });

  it('names agents and numbers added, removed and changed, and the default agent', () => {
    const after = {
      default_agent: 'billing',
      agents: [
        { id: 'support', persona: 'You are Ada, now briefer.', greeting: 'Hello.' },
        { id: 'billing', persona: 'You are Bo.' },
      ],
      numbers: { '+15550001111': { agent: 'billing' }, '+15550003333': { agent: 'support' } },
    };
    const d = diffConfig(parse(base), parse(after));
    expect(d.agents).toEqual({ added: ['billing'], removed: ['sales'], changed: ['support'] });
    expect(d.numbers).toEqual({ added: ['+15550003333'], removed: ['+15550002222'], changed: ['+15550001111'] });
    expect(d.defaultAgent).toEqual({ from: 'support', to: 'billing' });
    expect(describeDiff(d)).toContain('agents added: billing');
    expect(describeDiff(d)).toContain('numbers removed: +15550002222');
    const masked = describeDiff(d, maskNumber);
    expect(masked).toContain('numbers added: •••3333');
    expect(masked).not.toMatch(/\+1555/);
  });

  it('lists bridge settings that change as not applied until a restart', () => {
    const d = diffConfig(parse(base), parse({ ...base, bridge: { max_concurrent_calls: 3 } }));
    expect(d.bridgeNotApplied).toEqual(['bridge.max_concurrent_calls']);
    expect(describeDiff(d)).toContain('not applied until a restart: bridge.max_concurrent_calls');
  });
});
