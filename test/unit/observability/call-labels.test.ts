import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../src/config/schema.js';
import {
  CallLabeller,
  DEFAULT_ROUTE,
  NO_AGENT,
  UNKNOWN_AGENT,
  UNNAMED_ROUTE,
} from '../../../src/observability/call-labels.js';

const file = {
  default_agent: 'support',
  agents: [{ id: 'support' }, { id: 'sales' }],
  numbers: { '+15550001111': { name: 'support-line', agent: 'support' }, '+15550002222': { agent: 'sales' } },
  sip: { trunks: [{ name: 'carrier-a' }] },
} as unknown as ConfigFile;

describe('CallLabeller', () => {
  const l = new CallLabeller();
  l.use(() => file);

  it('names a configured agent and number route by their configured names', () => {
    expect(l.of({ agentId: 'support', to: '+15550001111' })).toEqual({ agent: 'support', route: 'support-line' });
    expect(l.of({ agentId: 'sales', to: '+15550002222' })).toEqual({ agent: 'sales', route: UNNAMED_ROUTE });
  });

  it('a SIP call to a number with no route is labelled by its configured trunk', () => {
    expect(l.of({ agentId: 'sales', to: '+15559990000', trunk: 'carrier-a' })).toEqual({
      agent: 'sales',
      route: 'carrier-a',
    });
    expect(l.of({ agentId: 'sales', to: '+15550001111', trunk: 'carrier-a' }).route).toBe('support-line');
  });

  it('maps an id, a number or a trunk nobody configured to the fixed values', () => {
    expect(l.of({ agentId: 'evil', to: '+15559990000', trunk: 'evil' })).toEqual({
      agent: UNKNOWN_AGENT,
      route: DEFAULT_ROUTE,
    });
    expect(l.of({ agentId: NO_AGENT }).agent).toBe(NO_AGENT);
    // inherited properties of the routing table are not routes
    for (const to of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      expect(l.of({ agentId: 'support', to }).route).toBe(DEFAULT_ROUTE);
  });

  it('property: whatever a caller or peer sends, the labels are configured names or fixed values', () => {
    const agents = new Set(['support', 'sales', UNKNOWN_AGENT, NO_AGENT]);
    const routes = new Set(['support-line', UNNAMED_ROUTE, DEFAULT_ROUTE, 'carrier-a']);
    const anyText = fc.oneof(fc.string(), fc.constantFrom('support', '+15550001111', 'carrier-a', '__proto__'));
    fc.assert(
      fc.property(
        fc.option(anyText, { nil: undefined }),
        fc.option(anyText, { nil: undefined }),
        fc.option(anyText, { nil: undefined }),
        (agentId, to, trunk) => {
          const got = l.of({ agentId, to, trunk });
          expect(agents).toContain(got.agent);
          expect(routes).toContain(got.route);
        },
      ),
    );
  });

  it('follows the configuration in force: an agent removed by a reload is unknown for new calls', () => {
    let current = file;
    const r = new CallLabeller();
    r.use(() => current);
    expect(r.of({ agentId: 'sales' }).agent).toBe('sales');
    current = { ...file, agents: [{ id: 'support' }] } as unknown as ConfigFile;
    expect(r.of({ agentId: 'sales' }).agent).toBe(UNKNOWN_AGENT);
  });

  it('without a configuration every call is unknown', () => {
    expect(new CallLabeller().of({ agentId: 'support', to: '+15550001111' })).toEqual({
      agent: UNKNOWN_AGENT,
      route: DEFAULT_ROUTE,
    });
  });
});
