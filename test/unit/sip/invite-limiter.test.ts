import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InviteLimiter } from '../../../src/sip/invite-limiter.js';

/**
 * The per-source INVITE bucket against the bound it promises, over random arrival times, sources
 * and limits: in every window [a, b] a source gets at most burst + rate·(b − a) INVITEs in, and an
 * INVITE is refused only when the source really used up its bucket (a reference counts it).
 */
describe('InviteLimiter', () => {
  it('never lets a source exceed burst + rate x window, and refuses only an exhausted source', () => {
    fc.assert(
      fc.property(
        fc.record({
          per_second: fc.double({ min: 0.5, max: 200, noNaN: true }),
          burst: fc.integer({ min: 1, max: 50 }),
        }),
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 400 }), src: fc.integer({ min: 0, max: 3 }) }), {
          maxLength: 400,
        }),
        (limit, arrivals) => {
          let now = 0;
          const limiter = new InviteLimiter(() => now);
          const taken: number[][] = [[], [], [], []];
          // reference: a continuous-time bucket computed from the admitted history alone
          const ref = [0, 1, 2, 3].map(() => ({ tokens: limit.burst, at: 0 }));
          for (const a of arrivals) {
            now += a.gapMs;
            const r = ref[a.src]!;
            r.tokens = Math.min(limit.burst, r.tokens + ((now - r.at) / 1000) * limit.per_second);
            r.at = now;
            const ok = limiter.take(`10.0.0.${a.src}`, limit);
            expect(ok).toBe(r.tokens >= 1 - 1e-9);
            if (ok) {
              r.tokens -= 1;
              taken[a.src]!.push(now);
            }
          }
          for (const times of taken)
            for (let i = 0; i < times.length; i++)
              for (let j = i; j < times.length; j++) {
                const window = (times[j]! - times[i]!) / 1000;
                expect(j - i + 1).toBeLessThanOrEqual(limit.burst + limit.per_second * window + 1e-6);
              }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps its table bounded under a flood from many addresses', () => {
    let now = 0;
    const limiter = new InviteLimiter(() => now, 1000);
    for (let i = 0; i < 20_000; i++) {
      now += 1;
      limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, { per_second: 10, burst: 40 });
    }
    expect(limiter.size).toBe(1000);
  });

  it('a flooding source does not hold back another one', () => {
    const now = 0;
    const limiter = new InviteLimiter(() => now);
    const limit = { per_second: 10, burst: 5 };
    const flood = Array.from({ length: 100 }, () => limiter.take('10.0.0.1', limit));
    expect(flood.filter(Boolean)).toHaveLength(5);
    expect(limiter.take('10.0.0.2', limit)).toBe(true);
  });
});
