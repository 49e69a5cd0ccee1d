import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A leaked admin token must not become a toll-fraud tool: POST /admin/calls dials only the agents'
 * transfer targets and what `bridge.outbound.allow` names. Everything else is a 403, logged and
 * counted, and Twilio's REST API is never called.
 */

const ADMIN = 'admin-token-for-outbound-test-4e2b';
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function placeCall(to: string) {
  return fetch(`${h!.bridgeUrl}/admin/calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to, from: '+15550001111', agent: 'support' }),
    signal: AbortSignal.timeout(5000),
  });
}

const calls = () => h!.sim.restRequests.filter((r) => r.path.endsWith('/Calls.json'));

describe('admin outbound calls: destination allow-list', () => {
  it('refuses a premium-rate number and an arbitrary sip: URI with 403, logged and counted, and makes no REST call', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    for (const to of ['+19005550123', 'sip:anyone@evil.example.com']) {
      const res = await placeCall(to);
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: 'destination_not_allowed' });
    }
    expect(h.sim.restRequests).toEqual([]);
    const refused = h.logs.find('outbound call refused: destination not allowed');
    expect(refused.map((l) => l.destination)).toEqual(['+1900…(12)', 'sip:…(27)']);
    expect(h.logs.text()).not.toContain('9005550123');
    const metrics = await (await fetch(`${h.bridgeUrl}/metrics`)).text();
    expect(metrics).toMatch(/bridge_webhook_rejected_total\{route="admin",reason="destination_not_allowed"\} 2/);
  });

  it("dials the agents' transfer targets by default, and configured prefixes and patterns", async () => {
    h = await startHarness({
      env: { ADMIN_TOKEN: ADMIN },
      tweak: (c) => {
        c.file.bridge.outbound.allow = ['+1555777*', 'sip:*@pbx.example.com'];
      },
    });
    expect((await placeCall('+15550100200')).status).toBe(201); // front_desk, a transfer target
    expect((await placeCall('+15557770001')).status).toBe(201);
    expect((await placeCall('sip:sales@pbx.example.com')).status).toBe(201);
    expect(calls()).toHaveLength(3);
    // a pattern's * never spans '@', ';' or ':': it cannot be stretched to another host
    expect((await placeCall('sip:a@evil.example.com;x@pbx.example.com')).status).toBe(403);
    expect((await placeCall('+15557780001')).status).toBe(403);
    expect(calls()).toHaveLength(3);
  });
});
