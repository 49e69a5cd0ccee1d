import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskForPage, maskNumber, previewForPage } from '../../../src/observability/redact.js';

describe('maskForPage: what a console page may show of a server message', () => {
  it('masks a routed number and shortens the file path in a refused reload', () => {
    const msg =
      '/srv/bridge/config/agents.yaml: numbers.+15550007777: routes to unknown agent "nobody" (see /opt/x/docs/configuration.md)';
    const out = maskForPage(msg);
    expect(out).toBe('…/agents.yaml: numbers.•••7777: routes to unknown agent "nobody" (see …/configuration.md)');
  });

  it('leaves no run of 7 or more digits, however the number is written', () => {
    const sep = fc.constantFrom('', ' ', '-', '.', '(', ')');
    const number = fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: 7, maxLength: 15 })
      .chain((ds) => fc.tuple(fc.constant(ds), fc.array(sep, { minLength: ds.length, maxLength: ds.length })));
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        number,
        fc.string({ maxLength: 20 }),
        fc.boolean(),
        (pre, [ds, seps], post, plus) => {
          const written = (plus ? '+' : '') + ds.map((d, i) => `${d}${i < ds.length - 1 ? seps[i] : ''}`).join('');
          const out = maskForPage(`${pre} ${written} ${post}`);
          expect(
            out
              .replace(/\D/g, ' ')
              .split(' ')
              .some((run) => run.length >= 7 && ds.join('').includes(run)),
          ).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps short numbers (limits, counts) as they are', () => {
    expect(maskForPage('timeout_s must be at most 600, got 1200')).toBe('timeout_s must be at most 600, got 1200');
    expect(maskNumber('+15557654321')).toBe('•••4321');
  });
});

describe('previewForPage (a tool call in the past-call review)', () => {
  it('masks numbers in strings and number values, hides secret-named keys, scrubs secrets before cutting', () => {
    const shown = previewForPage(
      { order_id: '4417', phone: '+1 (555) 987-6543', account: 12345678, apiKey: 'k-1', nested: { auth_token: 'x' } },
      (t) => t,
    )!;
    expect(shown).toContain('"order_id":"4417"');
    expect(shown).toContain('•••6543');
    expect(shown).toContain('•••5678');
    expect(shown).not.toMatch(/987|1234567/);
    expect(shown).toContain('"apiKey":"[secret]"');
    expect(shown).toContain('"auth_token":"[secret]"');
    const secret = 'S3CRET-VALUE-abcdef';
    const long = previewForPage({ note: `${'x'.repeat(390)}${secret}` }, (t) => t.split(secret).join('[redacted]'))!;
    expect(long).not.toContain('S3CRET');
    expect(long.length).toBeLessThanOrEqual(400);
    expect(previewForPage(undefined)).toBeUndefined();
  });
});
