/**
 * Bad input from the Twilio side: every malformed, unknown or out-of-place message is a
 * counted rejection with a log line, and neither the process nor a concurrent healthy call
 * notices. Unsigned requests are refused before any engine session exists.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { audibleSpan, pitch } from '../helpers/audio.js';
import {
  CALLER,
  SUPPORT_NUMBER,
  VOICE_HZ,
  janitor,
  sleep,
  startBridgeStack,
  type BridgeStack,
} from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { metricDump, metricValue } from '../helpers/metrics.js';
import { RawStream, SILENCE, postVoice, sid, tryUpgrade } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

const rejected = (h: BridgeStack, reason: string) =>
  metricValue(h.bridge, 'bridge_rejected_messages_total', { source: 'twilio', reason });
const refused = (h: BridgeStack, route: string, reason: string) =>
  metricValue(h.bridge, 'bridge_webhook_rejected_total', { route, reason });
const rejectionLogs = (h: BridgeStack) => h.logs.find('twilio message rejected').map((l) => String(l.reason));

/** A simulated call that runs through the whole test and must come out clean. */
function healthyCall(h: BridgeStack) {
  return h.sim.placeCall({ to: SUPPORT_NUMBER, from: CALLER, maxDurationMs: 15_000 });
}

async function expectHealthy(h: BridgeStack, call: ReturnType<typeof healthyCall>) {
  // Hang up only once the whole greeting has been heard (the agent went quiet after speaking): on
  // a loaded machine the healthy call's set-up can still be under way when the test gets here,
  // and a hang-up then would leave nothing, or a fragment too short to measure, to check.
  await waitFor(() => call.timeline.some((e) => e.who === 'agent' && e.what === 'silent'), 15_000);
  call.hangup();
  const result = await call.done;
  expect(result.violations).toEqual([]);
  expect(result.endedBy).toBe('caller');
  // it heard its greeting, at the support agent's pitch
  const span = audibleSpan(result.heard)!;
  expect(span).toBeDefined();
  expect(pitch(result.heard, span.first, span.last, 8000)).toBeCloseTo(VOICE_HZ.support, -1);
  await waitFor(() => h.records.some((r) => r.callSid === call.callSid));
  expect(h.records.find((r) => r.callSid === call.callSid)!.outcome).toBe('caller_hangup');
}

describe('bridge: malformed Twilio messages', () => {
  it('counts and logs each bad message after start, keeps the socket, and a concurrent call is unaffected', async () => {
    // (What arrives before a valid `start` closes the socket instead: stream-binding.test.ts.)
    const h = j.track(await startBridgeStack());
    const call = healthyCall(h);
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');

    raw.start(callSid, { agent: 'support' });
    await waitFor(() => h.bridge.ctx.registry.get(callSid) !== undefined);
    raw.text('{"event": "media", oops');
    raw.json({ event: 'hello', streamSid: raw.streamSid });
    raw.json({ no: 'event' });
    raw.media(SILENCE, { streamSid: sid('MZ') });
    raw.media('!!!!'); // not base64
    raw.media('abcde'); // impossible base64 length
    raw.media(''); // empty payload
    raw.media(new Uint8Array([0xff, 0x7f, 0xff])); // an odd byte count is valid μ-law: accepted
    raw.json({
      event: 'media',
      sequenceNumber: 7,
      streamSid: raw.streamSid,
      media: { track: 'inbound', chunk: '1', timestamp: '20', payload: 'AAAA' },
    });
    raw.json({
      event: 'dtmf',
      sequenceNumber: '8',
      streamSid: raw.streamSid,
      dtmf: { track: 'inbound_track', digit: 'x' },
    });
    raw.binary(Buffer.from([1, 2, 3, 4]));
    raw.start(callSid); // a second start on the same socket
    raw.mark('no-such-mark'); // unknown marks are ignored, not errors

    const expected: Record<string, number> = {
      invalid_json: 1,
      unknown_event: 1,
      missing_event: 1,
      wrong_stream_sid: 1,
      invalid_media: 3,
      bad_payload: 1,
      invalid_dtmf: 1,
      binary_frame: 1,
      duplicate_start: 1,
    };
    const total = Object.values(expected).reduce((x, y) => x + y, 0);
    const counted = async () => {
      let n = 0;
      for (const reason of Object.keys(expected)) n += await rejected(h, reason);
      return n;
    };
    const t0 = Date.now();
    while ((await counted()) < total && Date.now() - t0 < 5000) await sleep(20);
    for (const [reason, n] of Object.entries(expected)) {
      expect(
        await rejected(h, reason),
        `${reason}\n${await metricDump(h.bridge, 'bridge_rejected_messages_total')}`,
      ).toBe(n);
    }
    // Every reason is logged; the three invalid_media within a second make one line (rate-limited).
    const logged = rejectionLogs(h);
    for (const reason of Object.keys(expected))
      expect(
        logged.some((r) => r.startsWith(reason)),
        reason,
      ).toBe(true);
    expect(logged.filter((r) => r.startsWith('invalid_media'))).toHaveLength(1);

    // Still open and still bridged: good media after all that reaches the engine.
    expect(raw.isOpen).toBe(true);
    await waitFor(() => h.engine.sessions.some((s) => s.sessionLabel === `call-${callSid}`));
    const engineRec = h.engine.sessions.find((s) => s.sessionLabel === `call-${callSid}`)!;
    const before = engineRec.audioMsReceived;
    const stopPacing = raw.pace();
    await waitFor(() => engineRec.audioMsReceived > before + 200);
    stopPacing();

    // After `stop` the call is over: anything more is counted, not processed.
    raw.stop();
    raw.media(SILENCE);
    await waitFor(() => h.records.some((r) => r.callSid === callSid));
    expect(await rejected(h, 'after_stop')).toBe(1);
    expect(h.records.find((r) => r.callSid === callSid)!.outcome).toBe('caller_hangup');

    const health = await fetch(`${h.bridgeUrl}/healthz`);
    expect(health.status).toBe(200);
    await expectHealthy(h, call);
  });

  it('closes a socket that sends a frame over 64 KB (counted), and only that socket', async () => {
    const h = j.track(await startBridgeStack());
    const call = healthyCall(h);
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    raw.start(callSid);
    await waitFor(() => h.bridge.ctx.registry.get(callSid) !== undefined);
    raw.text(JSON.stringify({ event: 'media', pad: 'x'.repeat(70 * 1024) }));
    expect(await raw.closed).toBe(1009);
    await waitFor(() => h.records.some((r) => r.callSid === callSid));
    expect(h.records.find((r) => r.callSid === callSid)!.outcome).toBe('stream_closed');
    expect(await rejected(h, 'oversize')).toBe(1);
    expect(h.logs.find('twilio message rejected').some((l) => l.reason === 'oversize')).toBe(true);
    await sleep(300);
    await expectHealthy(h, call);
  });

  it("gets its 1009 to the sender, without a reset, even when that socket's writes are being held", async () => {
    // The case behind the old 1006 flake, made certain: the bridge's write coalescer holds the
    // socket's writes (corked until the end of the batch) at the moment the oversize frame arrives,
    // so ws writes its close frame into a held socket. It must still go out, and the connection
    // must end with a FIN, not a reset that throws away what the sender has not read yet.
    const h = j.track(await startBridgeStack());
    const coalescer = h.bridge.ctx.sockets.coalescer;
    expect(coalescer, 'write coalescing is on by default').toBeDefined();
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    raw.start(callSid);
    await waitFor(() => h.bridge.ctx.registry.get(callSid) !== undefined);
    const [serverWs, ...others] = [...h.bridge.app.websocketServer.clients];
    expect(others).toEqual([]);
    const tcp = (serverWs as unknown as { _socket: Socket })._socket;
    tcp.prependListener('data', () => coalescer!.attach(tcp).hold());
    const resets: string[] = [];
    (raw.ws as unknown as { _socket: Socket })._socket.on('error', (e: NodeJS.ErrnoException) =>
      resets.push(e.code ?? e.message),
    );

    raw.text(JSON.stringify({ event: 'media', pad: 'x'.repeat(70 * 1024) }));
    expect(await raw.closed).toBe(1009);
    expect(resets).toEqual([]);
    expect(await rejected(h, 'oversize')).toBe(1);
  });
});

describe('bridge: signatures', () => {
  it('refuses unsigned and wrongly signed upgrades and webhooks with 403, before any engine session', async () => {
    const h = j.track(await startBridgeStack());
    const t = h.target;
    const callSid = sid('CA');

    expect(await tryUpgrade(t, null)).toEqual({ status: 403 });
    expect(await tryUpgrade(t, 'bm90IGEgc2lnbmF0dXJl')).toEqual({ status: 403 });
    // signed with the wrong token, and signed for another URL
    expect(
      await tryUpgrade(
        t,
        signTwilioRequest('wrong-token', `wss://127.0.0.1:${new URL(t.bridgeUrl).port}/twilio/media`),
      ),
    ).toEqual({ status: 403 });
    expect(await tryUpgrade(t, signTwilioRequest(t.authToken, 'wss://evil.example.com/twilio/media'))).toEqual({
      status: 403,
    });

    expect((await postVoice(t, { callSid, signature: null })).status).toBe(403);
    expect((await postVoice(t, { callSid, signature: 'AAAA' })).status).toBe(403);
    // a valid signature of other parameters (the body was tampered with)
    const other = signTwilioRequest(t.authToken, `${t.bridgeUrl}/twilio/voice`, {
      CallSid: callSid,
      To: '+19999999999',
    });
    expect((await postVoice(t, { callSid, signature: other })).status).toBe(403);
    const status = await fetch(`${t.bridgeUrl}/twilio/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ CallSid: callSid, AccountSid: t.accountSid, CallStatus: 'completed' }).toString(),
    });
    expect(status.status).toBe(403);

    await sleep(150); // an engine connect, had one started, would have reached the engine by now
    expect(h.engine.sessions).toEqual([]);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(await refused(h, '/twilio/media', 'missing_signature')).toBe(1);
    expect(await refused(h, '/twilio/media', 'bad_signature')).toBe(3);
    expect(await refused(h, '/twilio/voice', 'missing_signature')).toBe(1);
    expect(await refused(h, '/twilio/voice', 'bad_signature')).toBe(2);
    expect(await refused(h, '/twilio/status', 'missing_signature')).toBe(1);
    expect(h.logs.find('twilio request refused')).toHaveLength(8);

    // the same bridge still takes a properly signed call
    const ok = await postVoice(t, { callSid });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<Connect><Stream');
    await waitFor(() => h.engine.sessions.length === 1);
  });
});
