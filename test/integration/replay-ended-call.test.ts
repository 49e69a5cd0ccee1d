/**
 * A captured Twilio request buys nothing. Twilio's
 * signatures carry no timestamp, so each test here replays a request exactly as Twilio signed
 * it — the attacker's move — and checks that no token, no engine session and no stream comes of
 * it, while the real call is served as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { parseTwiml } from '../../src/sim/twilio/index.js';
import { CALLER, janitor, sleep, startBridgeStack, SUPPORT_NUMBER, type BridgeStack } from '../helpers/bridge-stack.js';
import { ACCOUNT_SID, AUTH_TOKEN, waitFor } from '../helpers/harness.js';
import { child, FRONT_DESK, restTwiml, startControlStack } from '../helpers/control.js';
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

const j = janitor();
afterEach(() => j.closeAll());

const IVR_NUMBER = '+15550003333';
const ivrNumber = {
  [IVR_NUMBER]: {
    ivr: { prompt: { say: 'Press 1.' }, options: { '1': { agent: 'sales' } }, default: { hangup: true } },
  },
};

const rejected = (h: BridgeStack, route: string, reason: string) =>
  metricValue(h.bridge, 'bridge_webhook_rejected_total', { route, reason });
const streamsRefused = (h: BridgeStack, reason: string) =>
  metricValue(h.bridge, 'bridge_media_streams_refused_total', { reason });
const closedWithin = (raw: RawStream, ms: number) => Promise.race([raw.closed, sleep(ms).then(() => 'open' as const)]);

/** Twilio's final status callback for `callSid`, signed. */
const reportCompleted = (t: TwilioTarget, callSid: string) =>
  postSigned(t, '/twilio/status', callParams(t, callSid, { CallStatus: 'completed', SequenceNumber: '3' }));

describe('a webhook replayed for a call that is over', () => {
  it('a replayed /twilio/voice for a call that ended gets no token and opens no engine session', async () => {
    const h = j.track(await startBridgeStack());
    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 10_000,
      statusCallbackUrl: `${h.bridgeUrl}/twilio/status`,
      caller: [{ atMs: 1500, hangup: true }],
    });
    const result = await call.done;
    expect(result.streams).toHaveLength(1);
    await waitFor(
      () => h.logs.find('call status').some((l) => l.callSid === call.callSid && l.status === 'completed'),
      5000,
    );
    expect(h.engine.sessions).toHaveLength(1);

    // The captured voice webhook, byte for byte, three times.
    for (let i = 0; i < 3; i++) {
      const replay = await postVoice(h.target, { callSid: call.callSid, from: CALLER, to: SUPPORT_NUMBER });
      expect(replay.status).toBe(200);
      expect(replay.body).toContain('<Hangup/>');
      expect(replay.body).not.toContain('<Connect>');
      expect(tokenOf(replay.body)).toBeUndefined();
    }
    await sleep(300);
    expect(h.engine.sessions).toHaveLength(1);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(await rejected(h, '/twilio/voice', 'call_ended')).toBe(3);
    // Logged, but once per interval: a replay flood is not a log flood.
    expect(h.logs.find('webhook refused: no session opened for this call')).toHaveLength(1);
  });

  it('a replayed /twilio/ivr key press or /twilio/outbound answer for a call that ended opens nothing', async () => {
    const h = j.track(await startBridgeStack({ tweak: (c) => Object.assign(c.file.numbers, ivrNumber) }));
    const ivrCall = sid('CA');
    const outCall = sid('CA');
    expect((await reportCompleted(h.target, ivrCall)).status).toBe(204);
    expect((await reportCompleted(h.target, outCall)).status).toBe(204);

    const press = await postSigned(
      h.target,
      `/twilio/ivr?to=${encodeURIComponent(IVR_NUMBER)}&attempt=1`,
      callParams(h.target, ivrCall, { To: IVR_NUMBER, Digits: '1' }),
    );
    const answered = await postSigned(
      h.target,
      '/twilio/outbound?agent=sales',
      callParams(h.target, outCall, { Direction: 'outbound-api', From: SUPPORT_NUMBER, To: CALLER }),
    );
    for (const r of [press, answered]) {
      expect(r.status).toBe(200);
      expect(r.body).not.toContain('<Connect>');
    }
    await sleep(300);
    expect(h.engine.sessions).toHaveLength(0);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(await rejected(h, '/twilio/ivr', 'call_ended')).toBe(1);
    expect(await rejected(h, '/twilio/outbound', 'call_ended')).toBe(1);
  });

  it('a repeated /twilio/voice for a call in progress gets the first answer: the same token, one engine session', async () => {
    const h = j.track(await startBridgeStack());
    const callSid = sid('CA');
    // Twilio's retry carries the same I-Twilio-Idempotency-Token; a replay may carry any or none.
    const headers = { 'i-twilio-idempotency-token': 'b8a0b9c5-7a3e-4a45-9d8c-000000000001' };
    const params = callParams(h.target, callSid, { CallStatus: 'ringing', From: CALLER, To: SUPPORT_NUMBER });
    // Two at once (a retry racing the first) and then one more.
    const [a, b] = await Promise.all([
      postSigned(h.target, '/twilio/voice', params, headers),
      postSigned(h.target, '/twilio/voice', params),
    ]);
    const c = await postSigned(h.target, '/twilio/voice', params, headers);
    const token = tokenOf(a.body);
    expect(token).toBeDefined();
    expect(tokenOf(b.body)).toBe(token);
    expect(tokenOf(c.body)).toBe(token);
    expect(b.body).toBe(a.body);
    await sleep(300);
    expect(h.engine.sessions).toHaveLength(1);
    // The retry with the first request's idempotency token is told apart (in the metric) from the other repeat.
    expect(await rejected(h, '/twilio/voice', 'twilio_retry')).toBe(1);
    expect(await rejected(h, '/twilio/voice', 'repeated')).toBe(1);

    // The token is still good for one stream: the real one.
    const stream = j.track(await RawStream.open(h.target));
    stream.startWith(callSid, { token: token! });
    await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true, 5000);
    const again = j.track(await RawStream.open(h.target));
    again.startWith(callSid, { token: token! });
    expect(await closedWithin(again, 3000)).toBe(1008);
    expect(h.engine.sessions).toHaveLength(1);
  });
});

describe('a stream token for a call that is over', () => {
  it('a start with a valid, unused token for a call Twilio reported over is refused', async () => {
    const h = j.track(await startBridgeStack());
    const callSid = sid('CA');
    const hook = await postVoice(h.target, { callSid, from: CALLER, to: SUPPORT_NUMBER });
    const token = tokenOf(hook.body)!;
    expect(token).toBeDefined();
    // The caller hung up before the stream began; the token leaked (a log, a proxy).
    expect((await reportCompleted(h.target, callSid)).status).toBe(204);
    await waitFor(() => h.bridge.ctx.registry.size === 0, 3000);
    const sessions = h.engine.sessions.length;

    const raw = j.track(await RawStream.open(h.target));
    raw.startWith(callSid, { token });
    raw.pace();
    expect(await closedWithin(raw, 3000)).toBe(1008);
    expect(await streamsRefused(h, 'call_ended')).toBe(1);
    await sleep(300);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(h.engine.sessions.length).toBe(sessions);
  });

  it("keeps agent, From and To out of the TwiML's token (Twilio's request logs show the TwiML)", async () => {
    const h = j.track(await startBridgeStack());
    const hook = await postVoice(h.target, { callSid: sid('CA'), from: CALLER, to: SUPPORT_NUMBER });
    const raw = Buffer.from(tokenOf(hook.body)!, 'base64url');
    for (const clear of ['support', CALLER.slice(2), SUPPORT_NUMBER.slice(2), CALLER.slice(-6)])
      expect(raw.includes(Buffer.from(clear)), clear).toBe(false);
    expect(hook.body).not.toContain(CALLER.slice(2));
  });
});

describe("a dial-action replayed during the same call's next transfer", () => {
  it('does not match the new park: the real dial-action brings the caller back to the agent', async () => {
    const h = j.track(
      await startControlStack({
        steps: [{ verb: 'transfer_to_human', args: { destination: 'front_desk' }, call_id: 'x1', await_result: true }],
        // Each dial rings long enough for the replay to land while the next transfer is parked.
        human: { answer: 'busy', ringMs: 3000 },
      }),
    );
    const t: TwilioTarget = { bridgeUrl: h.bridgeUrl, authToken: AUTH_TOKEN, accountSid: ACCOUNT_SID };
    const call = h.sim.placeCall({ to: '+15550001111', from: CALLER, maxDurationMs: 30_000 });
    const dials = () =>
      h.sim.restRequests.filter((r) => typeof r.form.Twiml === 'string' && r.form.Twiml.includes('<Dial'));
    // The first transfer's dial-action is captured; the call comes back and transfers again.
    await waitFor(() => dials().length >= 2, 20_000);
    const firstAction = child(restTwiml(dials()[0]!), 'Dial').attrs.action!;
    const secondAction = child(restTwiml(dials()[1]!), 'Dial').attrs.action!;
    expect(new URL(firstAction).searchParams.get('nonce')).not.toBe(new URL(secondAction).searchParams.get('nonce'));
    expect(h.engine.sessions).toHaveLength(2);

    // The captured dial-action #1, replayed while transfer #2 rings.
    const path = firstAction.slice(h.bridgeUrl.length);
    const replay = await postSigned(
      t,
      path,
      callParams(t, call.callSid, { From: CALLER, DialCallStatus: 'no-answer', DialCallSid: sid('CA') }),
    );
    expect(replay.status).toBe(200);
    expect(parseTwiml(replay.body).children.map((c) => c.name)).not.toContain('Connect');
    expect(replay.body).not.toContain('<Parameter');
    await sleep(300);
    expect(h.engine.sessions).toHaveLength(2);
    expect(
      await metricValue(h.bridge, 'bridge_webhook_rejected_total', {
        route: '/twilio/dial-action',
        reason: 'stale_dial_action',
      }),
    ).toBe(1);

    // Transfer #2's real dial-action (busy) still finds its park: back to the agent, with the context.
    await waitFor(() => h.engine.sessions.length === 3 && h.engine.sessions[2]!.config !== undefined, 15_000);
    expect(String(h.engine.sessions[2]!.config!.persona)).toContain('did not succeed (busy)');
    call.hangup();
    const result = await call.done;
    expect(result.streams.length).toBeGreaterThanOrEqual(3);
    expect(result.dialed!.slice(0, 2)).toEqual([
      { target: `number:${FRONT_DESK}`, result: 'busy' },
      { target: `number:${FRONT_DESK}`, result: 'busy' },
    ]);
  }, 60_000);
});

describe('required call parameters', () => {
  it('a voice webhook whose To or From was folded into a neighbour (the same signature) is a 400', async () => {
    const h = j.track(await startBridgeStack({ tweak: (c) => Object.assign(c.file.numbers, ivrNumber) }));
    const url = `${h.bridgeUrl}/twilio/voice`;
    const signed = callParams(h.target, sid('CA'), {
      CallStatus: 'ringing',
      From: CALLER,
      To: IVR_NUMBER,
      ForwardedFrom: '+15550004444',
      StirVerstat: 'TN-Validation-Passed-A',
    });
    const signature = signTwilioRequest(AUTH_TOKEN, url, signed);
    const post = (params: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      });
    // `StirVerstat=…` + `To=+1555…` signs like `StirVerstat=…To+1555…`: the IVR would be skipped.
    const { To, From, ...rest } = signed;
    const noTo = { ...rest, From: From!, StirVerstat: `${signed.StirVerstat}To${To}` };
    // `ForwardedFrom=…` + `From=+1555…` signs like `ForwardedFrom=…From+1555…`: the caller ID would vanish.
    const noFrom = { ...rest, To: To!, ForwardedFrom: `${signed.ForwardedFrom}From${From}` };
    expect(signTwilioRequest(AUTH_TOKEN, url, noTo)).toBe(signature);
    expect(signTwilioRequest(AUTH_TOKEN, url, noFrom)).toBe(signature);
    for (const forged of [noTo, noFrom]) {
      const res = await post(forged);
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain('<Connect>');
    }
    expect(await rejected(h, '/twilio/voice', 'invalid_params')).toBe(2);
    expect(h.engine.sessions).toHaveLength(0);
    // The request as Twilio sent it still works (the IVR menu).
    const ok = await post(signed);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('<Gather');
  });
});
