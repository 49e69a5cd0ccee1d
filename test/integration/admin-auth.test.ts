/**
 * Issue 27, item 7: the admin bearer API under a token spray. Wrong tokens back off per source
 * (429 with Retry-After, counted, one log line per 10 s); another source, and the right token
 * from anywhere, are never refused by it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_TOKEN, startHarness, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { testToken } from '../helpers/tokens.js';

const ADMIN = testToken('admin auth');

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('admin API bearer token', () => {
  it('answers 200 wrong tokens from one source with 429 after five, counted; other sources and the right token still get in', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN, TRUST_PROXY_HOPS: '1' }, secrets: [AUTH_TOKEN, ADMIN] });
    const base = h.bridgeUrl;
    const get = (token: string | undefined, from: string) =>
      fetch(`${base}/admin/calls`, {
        headers: { 'x-forwarded-for': from, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      });
    const attacker = '203.0.113.9';
    const codes: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 200; i++) {
      // wrong tokens of every shape: near misses, other lengths, none at all
      const guess = i % 3 === 0 ? `${ADMIN.slice(0, -1)}${i % 10}` : i % 3 === 1 ? `guess-${i}` : undefined;
      const r = await get(guess === ADMIN ? `${guess}x` : guess, attacker);
      codes.push(r.status);
      if (r.status === 429) retryAfter = Math.max(retryAfter, Number(r.headers.get('retry-after')));
      await r.arrayBuffer();
    }
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5).every((c) => c === 429)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', { route: 'admin', reason: 'rate_limited' }),
    ).toBe(195);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', { route: 'admin', reason: 'unauthorized' }),
    ).toBe(5);
    // Another source: an ordinary 401 for a wrong token, 200 for the right one.
    expect((await get('wrong', '198.51.100.7')).status).toBe(401);
    expect((await get(ADMIN, '198.51.100.7')).status).toBe(200);
    // The backing-off source itself still gets in with the right token (a shared address).
    expect((await get(ADMIN, attacker)).status).toBe(200);
    // The log: rate-limited, and never a token.
    const lines = h.logs.find('admin API refused: wrong or missing bearer token');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(h.logs.text()).not.toContain(ADMIN);
    expect(h.logs.text()).not.toContain(ADMIN.slice(0, -1));
  });
});
