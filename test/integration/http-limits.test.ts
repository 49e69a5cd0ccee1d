/**
 * Slow requests and connection floods cannot keep Twilio out. The attacker's
 * moves, over real loopback sockets from their own source addresses (127.0.0.2 and up), against
 * a bridge whose signed Twilio traffic comes from 127.0.0.1:
 * - a request whose headers or body arrive a byte at a time is cut after its deadline (408),
 *   while a live media stream, an upgraded socket, outlives those deadlines;
 * - under a descriptor limit (a bridge process under `ulimit -n`, as in the probe: slow POSTs
 *   made the next signed webhook and media upgrade fail), slow POSTs from one address, or from
 *   many, never stop the next signed webhook, a media upgrade, or a live call.
 * Every wait is a hang detector sized for a loaded machine, never a timing claim.
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SIM_ACCOUNT_SID, SIM_AUTH_TOKEN } from '../../src/sim/stack.js';
import { bridgeTestConfig, janitor, sleep, startBridgeStack } from '../helpers/bridge-stack.js';
import { startBridgeProcess, eventually } from '../helpers/bridge-process.js';
import { slowRequest, startFlood } from '../helpers/conn-flood.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue, scrapedValue } from '../helpers/metrics.js';
import { postVoice, RawStream, sid, tryUpgrade, type TwilioTarget } from '../helpers/raw-twilio.js';
import { signTwilioRequest } from '../../src/twilio/signature.js';
import { mediaStreamUrl } from '../../src/twilio/stream-twiml.js';

const j = janitor();
afterEach(() => j.closeAll());

const QUICK = { headers_timeout_ms: 1000, request_timeout_ms: 1000 };
/** An agent that talks for longer than any test here: its audio shows the stream is alive. */
const TALKER = { greeting: 'Thank you for calling, please hold on. '.repeat(40) };

describe('slow requests are cut', () => {
  it('a POST whose body arrives a byte at a time is cut with 408 after request_timeout_ms, and counted', async () => {
    const h = j.track(await startBridgeStack({ bridge: { http: QUICK } }));
    const port = Number(new URL(h.bridgeUrl).port);
    const slow = j.track(slowRequest(port, '127.0.0.2', 'slow_body', 200));
    // Hang detector: without a deadline the drip would go on for 10,000 bytes.
    const answer = await Promise.race([slow.done, sleep(15_000).then(() => 'still open after 15 s')]);
    expect(answer).toBe('HTTP/1.1 408 Request Timeout');
    expect(await metricValue(h.bridge, 'bridge_http_connections_refused_total', { reason: 'request_timeout' })).toBe(1);
  }, 30_000);

  it('a request whose headers arrive a byte at a time is cut after headers_timeout_ms', async () => {
    const h = j.track(await startBridgeStack({ bridge: { http: QUICK } }));
    const port = Number(new URL(h.bridgeUrl).port);
    const slow = j.track(slowRequest(port, '127.0.0.2', 'slow_headers', 100));
    const answer = await Promise.race([slow.done, sleep(15_000).then(() => 'still open after 15 s')]);
    expect(answer).toBe('HTTP/1.1 408 Request Timeout');
  }, 30_000);

  it('a connection that sends nothing is closed after headers_timeout_ms, and counted', async () => {
    const h = j.track(await startBridgeStack({ bridge: { http: QUICK } }));
    const port = Number(new URL(h.bridgeUrl).port);
    const silent = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    silent.on('error', () => {});
    silent.resume(); // reads whatever comes, so the server's close is seen (a paused socket never ends)
    j.track({ close: () => silent.destroy() });
    const closed = new Promise<string>((resolve) => silent.on('close', () => resolve('closed')));
    expect(await Promise.race([closed, sleep(15_000).then(() => 'still open after 15 s')])).toBe('closed');
    expect(await metricValue(h.bridge, 'bridge_http_connections_refused_total', { reason: 'idle_timeout' })).toBe(1);
  }, 30_000);

  it('a live media stream outlives the request deadlines: upgraded sockets are not subject to them', async () => {
    const h = j.track(await startBridgeStack({ bridge: { http: QUICK }, support: TALKER }));
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    raw.start(callSid, { agent: 'support' });
    await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true);
    await sleep(3500); // more than the deadline plus Node's check interval, several times over
    const before = raw.received.length;
    await waitFor(() => raw.received.length > before + 10, 10_000); // the agent's audio still flows
    expect(raw.isOpen).toBe(true);
    expect(await metricValue(h.bridge, 'bridge_http_connections_refused_total')).toBe(0);
  }, 30_000);
});

/** A bridge process with 256 descriptors: the probe's situation, scaled down. */
async function limitedBridge() {
  const b = j.track(
    await startBridgeProcess({
      config: bridgeTestConfig({ support: TALKER }),
      adminToken: 'http-limits-test-admin-token-0123456789abcdef',
      fdLimit: 256,
      env: { LOG_LEVEL: 'warn' },
    }),
  );
  const target: TwilioTarget = { bridgeUrl: b.url, authToken: SIM_AUTH_TOKEN, accountSid: SIM_ACCOUNT_SID };
  return { b, target, port: Number(new URL(b.url).port) };
}

/** The signed voice webhook and the media upgrade Twilio would send next: both must be served. */
async function twilioStillServed(target: TwilioTarget): Promise<void> {
  const voice = await postVoice(target, { callSid: sid('CA') }).catch((e: Error) => ({ status: 0, body: e.message }));
  expect(voice.status, voice.body).toBe(200);
  expect(voice.body).toContain('<Stream');
  const sig = signTwilioRequest(target.authToken, mediaStreamUrl(target.bridgeUrl), {});
  const upgrade = await tryUpgrade(target, sig).catch((e: Error) => ({ error: e.message }));
  expect(upgrade).toEqual({ opened: true });
}

describe('connection floods under a descriptor limit', () => {
  it('300 slow POSTs from one address: it keeps at most its per-source share, and signed Twilio traffic from another is served', async () => {
    const { b, target, port } = await limitedBridge();
    const flood = j.track(
      startFlood({ port, sources: ['127.0.0.2'], perSource: 300, kind: 'slow_body', dripMs: 2000, reconnectMs: 500 }),
    );
    await sleep(3000); // the flood is in place (and reconnecting what is cut)
    await twilioStillServed(target);
    await sleep(1000);
    // max_connections_per_source: 32, in the bridge's own books (a client's count also holds
    // handshakes the kernel completed that a loaded bridge has not accepted, and so not refused, yet).
    // The others held: this scrape's own connection and Twilio's, at most.
    expect(await scrapedValue(b.url, 'bridge_http_connections', { state: 'unproven' })).toBeLessThanOrEqual(32 + 2);
    expect(flood.cut()).toBeGreaterThan(100); // the flood really was refused, not merely slow to connect
    await twilioStillServed(target);
  }, 60_000);

  it('slow POSTs from 20 addresses: the newcomer displaces the largest holder, so Twilio gets in and a live call keeps its stream', async () => {
    const { target, port } = await limitedBridge();
    const raw = j.track(await RawStream.open(target));
    raw.start(sid('CA'), { agent: 'support' });
    await eventually(() => raw.audio().length > 0, 20_000, 'the live call hears its agent');
    const sources = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 10}`);
    j.track(startFlood({ port, sources, perSource: 15, kind: 'slow_body', dripMs: 2000, reconnectMs: 500 }));
    await sleep(3000);
    await twilioStillServed(target);
    await twilioStillServed(target);
    // The live call's socket is proven (its upgrade was signed): never displaced.
    const heard = raw.received.length;
    await eventually(() => raw.received.length > heard + 10, 20_000, 'the live call still gets audio');
    expect(raw.isOpen).toBe(true);
  }, 60_000);
});
