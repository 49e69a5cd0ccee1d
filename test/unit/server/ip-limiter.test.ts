import { describe, expect, it } from 'vitest';
import { RefusalLimiter } from '../../../src/server/security/ip-limiter.js';

describe('per-IP limit on refused Twilio requests', () => {
  it('blocks an address after its refusals in a window, and only that address', () => {
    const l = new RefusalLimiter(3, 1000);
    for (let i = 0; i < 3; i++) l.noteRefusal('10.0.0.1', 0);
    expect(l.blocked('10.0.0.1', 10)).toBe(true);
    expect(l.blocked('10.0.0.2', 10)).toBe(false);
  });

  it('forgets an address when its window has passed', () => {
    const l = new RefusalLimiter(2, 1000);
    l.noteRefusal('a', 0);
    l.noteRefusal('a', 0);
    expect(l.blocked('a', 500)).toBe(true);
    expect(l.blocked('a', 1500)).toBe(false);
  });

  it('keeps its table bounded under a flood from many addresses', () => {
    const l = new RefusalLimiter(1, 60_000, 100);
    for (let i = 0; i < 1000; i++) l.noteRefusal(`ip${i}`, 0);
    expect(l.blocked('ip999', 1)).toBe(true);
    expect(l.blocked('ip0', 1)).toBe(false); // evicted, not remembered forever
  });
});
