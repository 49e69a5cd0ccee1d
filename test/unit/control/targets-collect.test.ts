import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfigText } from '../../../src/config/loader.js';
import { resolveTarget } from '../../../src/control/targets.js';
import { DigitCollector, type CollectResult } from '../../../src/control/collect.js';

const agent = parseConfigText(`
default_agent: a
agents:
  - id: a
    persona: p
    transfer:
      targets:
        - { name: desk, kind: number, value: "+15550100200" }
        - { name: billing, kind: sip, value: "sip:billing@pbx.example.com" }
        - { name: alice, kind: client, value: "client:alice" }
        - { name: vip, kind: queue, value: vip_queue }
      default: desk
`).agents[0]!;

describe('transfer target resolution', () => {
  it('matches by name, by number, by sip URI and by client identity', () => {
    expect(resolveTarget(agent, 'billing')?.target.name).toBe('billing');
    expect(resolveTarget(agent, '+1 (555) 010-0200')?.target.name).toBe('desk');
    expect(resolveTarget(agent, 'SIP:billing@pbx.example.com')?.target.name).toBe('billing');
    expect(resolveTarget(agent, 'alice')?.target.name).toBe('alice');
    expect(resolveTarget(agent, 'vip_queue')?.target.name).toBe('vip');
  });

  it('falls back to the default for a destination not in the allow-list', () => {
    const r = resolveTarget(agent, '+19005550000');
    expect(r?.target.name).toBe('desk');
    expect(r?.usedDefault).toBe(true);
  });

  it('returns nothing when there is no allowed destination and no default', () => {
    const noDefault = { ...agent, transfer: { ...agent.transfer, default: undefined } };
    expect(resolveTarget(noDefault, '+19005550000')).toBeUndefined();
    expect(resolveTarget(noDefault, undefined)).toBeUndefined();
  });
});

describe('digit collection', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const collect = (opts: Partial<{ numDigits: number; finishOnKey: string; timeoutMs: number }>) => {
    const results: CollectResult[] = [];
    const c = new DigitCollector({ field: 'account', finishOnKey: '#', timeoutMs: 5000, ...opts }, (r) =>
      results.push(r),
    );
    return { c, results };
  };

  it('finishes on the finish key without including it', () => {
    const { c, results } = collect({});
    for (const d of '1234#') c.push(d);
    expect(results).toEqual([{ field: 'account', value: '1234', reason: 'finish_key' }]);
  });

  it('finishes at the digit count', () => {
    const { c, results } = collect({ numDigits: 3 });
    for (const d of '98765') c.push(d);
    expect(results).toEqual([{ field: 'account', value: '987', reason: 'num_digits' }]);
  });

  it('finishes after the inter-digit timeout, restarted by each digit', () => {
    const { c, results } = collect({ timeoutMs: 1000 });
    c.push('1');
    vi.advanceTimersByTime(900);
    c.push('2');
    vi.advanceTimersByTime(900);
    expect(results).toHaveLength(0);
    vi.advanceTimersByTime(200);
    expect(results).toEqual([{ field: 'account', value: '12', reason: 'timeout' }]);
  });
});
