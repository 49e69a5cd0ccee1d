/**
 * Issue 27, low: /metrics and the details of /readyz are not for anyone on the public listener.
 * /metrics needs METRICS_TOKEN or ADMIN_TOKEN as a bearer; /readyz tells anyone its status code,
 * its reasons and counts only with the bearer; /healthz stays open.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/loader.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { testToken, TEST_METRICS_TOKEN } from '../helpers/tokens.js';

const ADMIN = testToken('metrics auth admin');

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const get = (base: string, path: string, token?: string) =>
  fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describe('/metrics and /readyz on the public listener', () => {
  it('refuses /metrics without the bearer (401) and serves it with METRICS_TOKEN or ADMIN_TOKEN; /readyz details need it too', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    const base = h.bridgeUrl;
    for (const token of [undefined, 'wrong', `${TEST_METRICS_TOKEN}x`]) {
      const r = await get(base, '/metrics', token);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
      expect(await r.text()).not.toMatch(/bridge_|process_/);
    }
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', { route: '/metrics', reason: 'unauthorized' }),
    ).toBe(3);
    for (const token of [TEST_METRICS_TOKEN, ADMIN]) {
      const r = await get(base, '/metrics', token);
      expect(r.status).toBe(200);
      expect(await r.text()).toMatch(/bridge_active_calls|bridge_webhook_rejected_total/);
    }
    const open = await get(base, '/readyz');
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ status: 'ready' });
    const detailed = await get(base, '/readyz', TEST_METRICS_TOKEN);
    expect(detailed.status).toBe(200);
    expect(await detailed.json()).toMatchObject({ status: 'ready', activeCalls: 0 });
    h.bridge.ctx.draining = true;
    const draining = await get(base, '/readyz');
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'not_ready' });
    expect(await (await get(base, '/readyz', ADMIN)).json()).toMatchObject({ reasons: ['draining'] });
    expect((await get(base, '/healthz')).status).toBe(200);
  });

  it('keeps /metrics closed when no token is configured, saying what to set', async () => {
    h = await startHarness({ env: { METRICS_TOKEN: '' } });
    const r = await get(h.bridgeUrl, '/metrics');
    expect(r.status).toBe(401);
    expect(await r.text()).toContain('set METRICS_TOKEN');
  });

  it('refuses to start with a weak METRICS_TOKEN, naming it', () => {
    expect(() => loadEnv({ METRICS_TOKEN: 'metrics-token-2024' })).toThrow(/^METRICS_TOKEN is too weak: /);
    expect(loadEnv({ METRICS_TOKEN: TEST_METRICS_TOKEN }).metricsToken).toBe(TEST_METRICS_TOKEN);
  });
});
