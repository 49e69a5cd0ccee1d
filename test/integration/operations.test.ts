import { afterEach, describe, expect, it } from 'vitest';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { loadScenario } from '../../src/sim/engine/scenario.js';
import { ACCOUNT_SID, AUTH_TOKEN, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { testToken } from '../helpers/tokens.js';
import { scrapeMetrics } from '../helpers/metrics.js';

const ADMIN = testToken('operations admin');
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function form(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

async function postVoice(h: Harness, callSid: string, sign = true) {
  const url = `${h.bridgeUrl}/twilio/voice`;
  const params = {
    CallSid: callSid,
    AccountSid: ACCOUNT_SID,
    From: '+15557654321',
    To: '+15550001111',
    CallStatus: 'ringing',
    Direction: 'inbound',
  };
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (sign) headers['x-twilio-signature'] = signTwilioRequest(AUTH_TOKEN, url, params);
  return fetch(url, { method: 'POST', headers, body: form(params) });
}

const sid = (n: number) => 'CA' + n.toString(16).padStart(32, '0');

describe('operations', () => {
  it('places an outbound call with the chosen agent, correlated through the stream token', async () => {
    h = await startHarness({
      env: { ADMIN_TOKEN: ADMIN },
      tweak: (c) => {
        c.file.bridge.outbound.allow = ['+1555000*'];
      },
    });
    const res = await fetch(`${h.bridgeUrl}/admin/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+15550009999', from: '+15550001111', agent: 'sales' }),
    });
    expect(res.status).toBe(201);
    const { callSid } = (await res.json()) as { callSid: string };
    const create = h.sim.restRequests.find((r) => r.path.endsWith('/Calls.json'));
    expect(create?.authOk).toBe(true);
    // No inline TwiML: the CallSid a stream token is bound to exists only once the call does, so
    // Twilio fetches the stream's TwiML from the signed answer webhook, which names the agent.
    expect(create?.form.Twiml).toBeUndefined();
    expect(create?.form.Url).toBe(`${h.bridgeUrl}/twilio/outbound?agent=sales`);
    expect(create?.form.StatusCallback).toBe(`${h.bridgeUrl}/twilio/status`);
    await waitFor(() => h!.bridge.ctx.registry.get(callSid) !== undefined, 8000);
    expect(h.bridge.ctx.registry.get(callSid)!.agent.id).toBe('sales');
    expect(h.bridge.ctx.registry.get(callSid)!.info).toMatchObject({ from: '+15550001111', to: '+15550009999' }); // from the token
    await waitFor(
      () => h!.engine.sessions.some((s) => typeof s.config?.persona === 'string' && s.config.persona.includes('Sam')),
      5000,
    );
  });

  it('refuses the admin API without the bearer token and when it is disabled', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    expect((await fetch(`${h.bridgeUrl}/admin/calls`)).status).toBe(401);
    expect((await fetch(`${h.bridgeUrl}/admin/calls`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    const bad = await fetch(`${h.bridgeUrl}/admin/calls`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'not a number', from: '+15550001111', agent: 'sales' }),
    });
    expect(bad.status).toBe(400);
    await h.close();
    h = await startHarness();
    expect((await fetch(`${h.bridgeUrl}/admin/calls`)).status).toBe(404);
  });

  it('lists and hangs up an active call through the admin API', async () => {
    h = await startHarness({ env: { ADMIN_TOKEN: ADMIN } });
    const call = h.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 20_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 5000);
    const list = (await (
      await fetch(`${h.bridgeUrl}/admin/calls`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).json()) as { calls: { callSid: string }[] };
    expect(list.calls.map((c) => c.callSid)).toEqual([call.callSid]);
    const r = await fetch(`${h.bridgeUrl}/admin/calls/${call.callSid}/hangup`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    expect(r.status).toBe(202);
    const result = await call.done;
    expect(result.endedBy).toBe('rest-completed');
    expect(h.sim.restRequests.filter((q) => q.form.Status === 'completed')).toHaveLength(1);
  });

  it('answers new calls with the busy message past the concurrent-call limit', async () => {
    h = await startHarness({
      tweak: (c) => {
        c.file.bridge.max_concurrent_calls = 1;
      },
    });
    const first = await postVoice(h, sid(1));
    expect(await first.text()).toContain('<Connect>');
    const second = await postVoice(h, sid(2));
    const twiml = await second.text();
    expect(twiml).toContain('<Hangup/>');
    expect(twiml).toContain('busy');
    expect(h.bridge.ctx.registry.get(sid(2))).toBeUndefined();
  });

  it('drains: readiness turns 503, new calls are refused, and a call still up at the timeout gets its fallback', async () => {
    h = await startHarness({
      tweak: (c) => {
        c.file.agents.find((a) => a.id === 'support')!.fallback = {
          action: 'hangup',
          message: 'We are restarting. Goodbye.',
        };
      },
    });
    const call = h.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 20_000 });
    await waitFor(() => h!.bridge.ctx.registry.get(call.callSid)?.hasStream === true, 5000);
    expect((await fetch(`${h.bridgeUrl}/readyz`)).status).toBe(200);
    const draining = h.bridge.drain(300);
    expect((await fetch(`${h.bridgeUrl}/readyz`)).status).toBe(503);
    expect(await (await postVoice(h, sid(9))).text()).toContain('<Hangup/>');
    await draining;
    const result = await call.done;
    const update = h.sim.restRequests.find(
      (r) => typeof r.form.Twiml === 'string' && r.form.Twiml.includes('restarting'),
    );
    expect(update).toBeDefined();
    expect(result.endedBy).not.toBe('timeout');
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(h.records.at(-1)?.outcome).toBe('drain');
  });

  it('throttles an address that keeps sending unsigned requests', async () => {
    h = await startHarness();
    const codes: number[] = [];
    for (let i = 0; i < 35; i++) codes.push((await postVoice(h, sid(100 + i), false)).status);
    expect(codes.slice(0, 30).every((c) => c === 403)).toBe(true);
    expect(codes.slice(30).every((c) => c === 429)).toBe(true);
    expect(h.engine.sessions).toHaveLength(0);
  });

  it('exposes Prometheus metrics for calls, frames, tools and latency', async () => {
    const scenario = await loadScenario(new URL('../../config/demo-scenario.yaml', import.meta.url).pathname);
    h = await startHarness({ engine: { scenario: { ...scenario, steps: scenario.steps.slice(2, 3) } } });
    const call = h.sim.placeCall({ to: '+15550001111', from: '+15557654321', maxDurationMs: 20_000 });
    await waitFor(() => h!.engine.sessions[0]?.toolResults.length === 1, 10_000);
    call.hangup();
    await call.done;
    const text = await scrapeMetrics(h.bridgeUrl);
    for (const name of [
      'bridge_active_calls',
      'bridge_frames_total',
      'bridge_tool_calls_total',
      'bridge_added_latency_seconds_bucket',
      'bridge_engine_connect_seconds_bucket',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(text).toContain(name);
    }
    // per agent and route (the number's route has no name in this file: _unnamed), never the number
    expect(text).toMatch(
      /bridge_tool_calls_total\{agent="support",route="_unnamed",tool="get_order_status",outcome="ok"\} 1/,
    );
    expect(text).toMatch(/bridge_calls_total\{agent="support",route="_unnamed",outcome="caller_hangup"\} 1/);
    expect(text).not.toContain('15550001111');
  });
});
