/**
 * The replay defences of replay-ended-call.test.ts across a fleet: two replicas on one Redis
 * (127.0.0.1:6379, a random `test-opb-…` key prefix as the fleet tests use), the attacker's
 * request sent to the replica that did NOT see the call's earlier requests. Then a replica that
 * lost Redis: it cannot tell a new call from a replay, so it opens no session (fail closed).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseTwiml } from '../../src/sim/twilio/index.js';
import {
  CALLER,
  FRONT_DESK,
  janitor,
  sleep,
  startBridgeStack,
  SUPPORT_NUMBER,
  type BridgeStack,
  type BridgeStackOptions,
} from '../helpers/bridge-stack.js';
import { child, restTwiml } from '../helpers/control.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import {
  callParams,
  postSigned,
  postVoice,
  RawStream,
  sid,
  tokenOf,
  type TwilioTarget,
} from '../helpers/raw-twilio.js';
import { Redis } from 'ioredis';
import { dropPrefix, NO_REDIS, randomPrefix, REDIS_URL } from '../helpers/redis.js';
import { until } from '../helpers/fleet.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const j = janitor();
const prefixes: string[] = [];
afterAll(async () => {
  await j.closeAll();
  for (const p of prefixes) await dropPrefix(p);
});

/** Two replicas of one fleet (same Redis, same key prefix, same secrets). */
async function twoReplicas(o: BridgeStackOptions = {}): Promise<[BridgeStack, BridgeStack, string]> {
  const prefix = randomPrefix();
  prefixes.push(prefix);
  const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
  const a = j.track(await startBridgeStack({ ...o, env }));
  const b = j.track(await startBridgeStack({ ...o, env }));
  return [a, b, prefix];
}

const rejected = (h: BridgeStack, route: string, reason: string) =>
  metricValue(h.bridge, 'bridge_webhook_rejected_total', { route, reason });
const reportCompleted = (t: TwilioTarget, callSid: string) =>
  postSigned(t, '/twilio/status', callParams(t, callSid, { CallStatus: 'completed', SequenceNumber: '3' }));
const closedWithin = (raw: RawStream, ms: number) => Promise.race([raw.closed, sleep(ms).then(() => 'open' as const)]);

// Skipped only when Redis did not answer before the run, and never under CI=true (NO_REDIS).
describe.skipIf(NO_REDIS)('replays across two replicas on Redis', () => {
  it('a /twilio/voice replayed on the other replica for a call that ended there is refused', async () => {
    const [a, b] = await twoReplicas();
    const call = a.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 10_000,
      statusCallbackUrl: `${a.bridgeUrl}/twilio/status`,
      caller: [{ atMs: 1500, hangup: true }],
    });
    await call.done;
    await waitFor(
      () => a.logs.find('call status').some((l) => l.callSid === call.callSid && l.status === 'completed'),
      5000,
    );
    const replay = await postVoice(b.target, { callSid: call.callSid, from: CALLER, to: SUPPORT_NUMBER });
    expect(replay.status).toBe(200);
    expect(replay.body).not.toContain('<Connect>');
    expect(tokenOf(replay.body)).toBeUndefined();
    await sleep(300);
    expect(b.engine.sessions).toHaveLength(0);
    expect(b.bridge.ctx.registry.size).toBe(0);
    expect(await rejected(b, '/twilio/voice', 'call_ended')).toBe(1);
  }, 40_000);

  it('a /twilio/voice repeated on the other replica for a call in progress gets the first answer', async () => {
    const [a, b] = await twoReplicas();
    const params = callParams(a.target, sid('CA'), { CallStatus: 'ringing', From: CALLER, To: SUPPORT_NUMBER });
    const first = await postSigned(a.target, '/twilio/voice', params);
    const again = await postSigned(b.target, '/twilio/voice', params);
    expect(tokenOf(first.body)).toBeDefined();
    expect(again.body).toBe(first.body);
    expect(await rejected(b, '/twilio/voice', 'repeated')).toBe(1);
  }, 40_000);

  it('a valid, unused stream token is refused once the other replica got the final status', async () => {
    const [a, b] = await twoReplicas();
    const callSid = sid('CA');
    const token = tokenOf((await postVoice(a.target, { callSid, from: CALLER, to: SUPPORT_NUMBER })).body)!;
    expect(token).toBeDefined();
    expect((await reportCompleted(b.target, callSid)).status).toBe(204);
    const raw = j.track(await RawStream.open(a.target));
    raw.startWith(callSid, { token });
    raw.pace();
    expect(await closedWithin(raw, 5000)).toBe(1008);
    expect(await metricValue(a.bridge, 'bridge_media_streams_refused_total', { reason: 'call_ended' })).toBe(1);
    await sleep(300);
    expect(a.bridge.ctx.registry.size).toBe(0);
    expect(a.engine.sessions).toHaveLength(0);
  }, 40_000);

  it("a dial-action replayed on the other replica during the call's next transfer leaves that transfer's park alone", async () => {
    const [a, b, prefix] = await twoReplicas({
      steps: [{ verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'x1', await_result: true }],
      support: {
        transfer: {
          targets: [{ name: 'front_desk', kind: 'number', value: FRONT_DESK }],
          default: 'front_desk',
          on_no_answer: 'back_to_agent',
        },
      },
      human: { answer: 'busy', ringMs: 3000 },
    });
    const call = a.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 30_000 });
    const dials = () =>
      a.sim.restRequests.filter((r) => typeof r.form.Twiml === 'string' && r.form.Twiml.includes('<Dial'));
    await waitFor(() => dials().length >= 2, 25_000);
    expect(a.engine.sessions).toHaveLength(2);
    // Transfer #2 is parked in Redis (its session's end writes the park just after the REST <Dial>).
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    j.track({ close: () => redis.disconnect() });
    await until(
      async () => (await redis.exists(`${prefix}parked:${call.callSid}`)) === 1,
      10_000,
      'transfer #2 parked',
    );
    await until(async () => (await redis.exists(`${prefix}call:${call.callSid}`)) === 0, 10_000, 'session #2 released');
    const captured = child(restTwiml(dials()[0]!), 'Dial').attrs.action!;
    const replay = await postSigned(
      b.target,
      captured.slice(a.bridgeUrl.length),
      callParams(b.target, call.callSid, { From: CALLER, To: SUPPORT_NUMBER, DialCallStatus: 'no-answer' }),
    );
    expect(replay.status).toBe(200);
    expect(parseTwiml(replay.body).children.map((c) => c.name)).not.toContain('Connect');
    expect(await rejected(b, '/twilio/dial-action', 'stale_dial_action')).toBe(1);
    // The real dial-action of transfer #2 still takes its park: back to the agent with the context.
    await waitFor(() => a.engine.sessions.length === 3 && a.engine.sessions[2]!.config !== undefined, 15_000);
    expect(String(a.engine.sessions[2]!.config!.persona)).toContain('did not succeed (busy)');
    expect(b.engine.sessions).toHaveLength(0);
    call.hangup();
    expect((await call.done).streams.length).toBeGreaterThanOrEqual(3);
  }, 60_000);
});

describe.skipIf(NO_REDIS)('a replica that lost Redis', () => {
  it('opens no session for a voice webhook (it cannot tell a replay from a new call), and does again once Redis is back', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const proxy = j.track(await startTcpProxy(Number(new URL(REDIS_URL).port || 6379)));
    const h = j.track(
      await startBridgeStack({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: prefix } }),
    );
    proxy.cut();
    await waitFor(() => h.bridge.ctx.registry.store.health() !== 'ok', 10_000);
    const refused = await postVoice(h.target, { callSid: sid('CA'), from: CALLER, to: SUPPORT_NUMBER });
    expect(refused.status).toBe(200);
    expect(refused.body).not.toContain('<Connect>');
    expect(refused.body).toContain(h.config.file.bridge.busy_message);
    expect(await rejected(h, '/twilio/voice', 'store_unavailable')).toBe(1);
    expect(h.engine.sessions).toHaveLength(0);

    proxy.restore();
    await waitFor(() => h.bridge.ctx.registry.store.health() === 'ok', 15_000);
    const served = await postVoice(h.target, { callSid: sid('CA'), from: CALLER, to: SUPPORT_NUMBER });
    expect(tokenOf(served.body)).toBeDefined();
  }, 40_000);
});
