/**
 * A media stream is bound to the signed webhook that
 * created it by a per-call token in a <Parameter>. Twilio's upgrade signature is the same for
 * every call, so each test here opens its socket with a perfectly valid signature and attacks
 * with the `start`: another call's CallSid, an invented one, a second stream, forged parameters,
 * an expired token, no `start` at all.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { agentStreamTwiml } from '../../src/twilio/stream-twiml.js';
import { audibleSpan } from '../helpers/audio.js';
import {
  CALLER,
  SALES_NUMBER,
  SUPPORT_NUMBER,
  janitor,
  sleep,
  startBridgeStack,
  type BridgeStack,
} from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { RawStream, SILENCE, mintToken, sid } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

const refused = (h: BridgeStack, reason: string) =>
  metricValue(h.bridge, 'bridge_media_streams_refused_total', { reason });
/** The close code of a socket, or 'open' if it is still open after `ms`. */
const closedWithin = (raw: RawStream, ms: number) => Promise.race([raw.closed, sleep(ms).then(() => 'open' as const)]);

describe('stream binding: the start must carry a token for its CallSid', () => {
  it("refuses a start for a live call's CallSid with the replayed upgrade signature, and the caller keeps its stream", async () => {
    const h = j.track(await startBridgeStack());
    const victim = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 15_000,
      caller: [{ atMs: 2500, hangup: true }],
    });
    await waitFor(() => h.bridge.ctx.registry.get(victim.callSid)?.hasStream === true);
    const victimStream = h.bridge.ctx.registry.get(victim.callSid)!.streamSid;

    // No token at all, and the intruder's own valid token (for a call of his) on the victim's CallSid.
    const bare = j.track(await RawStream.open(h.target));
    bare.startWith(victim.callSid, { agent: 'sales', from: '+15550000666', to: SALES_NUMBER });
    const borrowed = j.track(await RawStream.open(h.target));
    borrowed.startWith(victim.callSid, { token: mintToken(h.target, sid('CA'), { agent: 'sales' }) });
    expect(await closedWithin(bare, 2000)).toBe(1008);
    expect(await closedWithin(borrowed, 2000)).toBe(1008);
    expect(await refused(h, 'token_missing')).toBe(1);
    expect(await refused(h, 'token_bad_mac')).toBe(1);

    // The call was never touched: same stream, same agent, and the caller hung up on it.
    const s = h.bridge.ctx.registry.get(victim.callSid)!;
    expect(s.streamSid).toBe(victimStream);
    expect(s.agent.id).toBe('support');
    const result = await victim.done;
    expect(result.violations).toEqual([]);
    expect(result.streams).toHaveLength(1);
    expect(result.streams[0]!.endedBy).toBe('stop');
    expect(result.endedBy).toBe('caller');
    expect(audibleSpan(result.heard)).toBeDefined();
    // The refusal log names the reason and never prints the token.
    const lines = h.logs.find('media stream refused');
    expect(lines.map((l) => l.reason).sort()).toEqual(['token_bad_mac', 'token_missing']);
    expect(h.logs.text()).not.toMatch(/"token"/);
  });

  it('opens no session and no engine session for an invented CallSid', async () => {
    const h = j.track(await startBridgeStack());
    const forged: Record<string, string>[] = [
      { agent: 'sales' },
      { token: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      { token: '<script>' },
    ];
    for (const custom of forged) {
      const raw = j.track(await RawStream.open(h.target));
      raw.startWith(sid('CA'), custom);
      raw.pace();
      expect(await closedWithin(raw, 2000)).toBe(1008);
    }
    await sleep(200);
    expect(h.bridge.ctx.registry.size).toBe(0);
    expect(h.engine.sessions).toHaveLength(0);
    expect((await refused(h, 'token_missing')) + (await refused(h, 'token_malformed'))).toBe(3);
  });

  it('refuses a second stream for a live call, with a fresh token or the first one replayed, and the first keeps its audio', async () => {
    const h = j.track(await startBridgeStack({ engine: { mode: 'loopback' } }));
    const callSid = sid('CA');
    const token = mintToken(h.target, callSid, { agent: 'support', from: CALLER, to: SUPPORT_NUMBER });
    const first = j.track(await RawStream.open(h.target));
    first.startWith(callSid, { token });
    j.track({ close: first.pace() }); // the loopback engine sends the caller's audio back: a steady stream
    await waitFor(() => first.media8k().length > 10);

    const fresh = j.track(await RawStream.open(h.target)); // as a replayed webhook would give
    fresh.start(callSid, { agent: 'support' });
    const replay = j.track(await RawStream.open(h.target)); // the very token Twilio carried
    replay.startWith(callSid, { token });
    expect(await closedWithin(fresh, 2000)).toBe(1008);
    expect(await closedWithin(replay, 2000)).toBe(1008);
    expect(await refused(h, 'stream_already_live')).toBe(1);
    expect(await refused(h, 'token_replayed')).toBe(1);

    const before = first.audio().length;
    await sleep(500);
    expect(first.isOpen).toBe(true);
    expect(first.audio().length - before).toBeGreaterThan(8 * 300); // > 300 ms of audio in 500 ms
    expect(h.bridge.ctx.registry.get(callSid)!.streamSid).toBe(first.streamSid);
    expect(h.engine.sessions).toHaveLength(1);
  });

  it('takes agent, From and To from the token and ignores forged stream parameters', async () => {
    const h = j.track(await startBridgeStack());
    const callSid = sid('CA');
    const raw = j.track(await RawStream.open(h.target));
    raw.startWith(callSid, {
      token: mintToken(h.target, callSid, { agent: 'support', from: CALLER, to: SUPPORT_NUMBER }),
      agent: 'sales',
      from: '+15550000666',
      to: SALES_NUMBER,
    });
    await waitFor(() => h.bridge.ctx.registry.get(callSid) !== undefined);
    const s = h.bridge.ctx.registry.get(callSid)!;
    expect(s.agent.id).toBe('support');
    expect(s.info.from).toBe(CALLER);
    expect(s.info.to).toBe(SUPPORT_NUMBER);
  });

  it('refuses an expired token', async () => {
    const h = j.track(await startBridgeStack());
    const callSid = sid('CA');
    const raw = j.track(await RawStream.open(h.target));
    raw.startWith(callSid, { token: mintToken(h.target, callSid, { agent: 'support' }, -2000) });
    expect(await closedWithin(raw, 2000)).toBe(1008);
    expect(await refused(h, 'token_expired')).toBe(1);
    expect(h.bridge.ctx.registry.size).toBe(0);
  });

  it('closes a socket that sends no start within start_timeout_ms, and one that sends anything but connected/start first', async () => {
    const h = j.track(await startBridgeStack({ bridge: { media_stream: { start_timeout_ms: 300 } } }));
    const idle = j.track(await RawStream.open(h.target));
    const t0 = performance.now();
    idle.json({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(await closedWithin(idle, 3000)).toBe(1008);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(250);
    expect(waited).toBeLessThan(2000);
    expect(await refused(h, 'start_timeout')).toBe(1);

    const early = j.track(await RawStream.open(h.target));
    early.json({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    early.media(SILENCE);
    const t1 = performance.now();
    expect(await closedWithin(early, 3000)).toBe(1008);
    expect(performance.now() - t1).toBeLessThan(250); // at once, not at the timeout
    expect(await refused(h, 'not_start_first')).toBe(1);
    await waitFor(() => h.bridge.app.websocketServer.clients.size === 0, 3000);
  });
});

describe('drain', () => {
  it('gives a stream that arrives without its webhook the busy message, like a new call', async () => {
    const h = j.track(await startBridgeStack());
    // Another replica answered the webhook (the same secret): its TwiML sends the stream here.
    const other = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const callSid = new URLSearchParams(body).get('CallSid')!;
        const twiml = agentStreamTwiml(h.bridgeUrl, h.config.file.bridge, {
          token: mintToken(h.target, callSid, { agent: 'support' }),
        });
        res.writeHead(200, { 'content-type': 'text/xml' }).end(twiml);
      });
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    j.track({ close: () => new Promise((r) => other.close(r)) });
    await h.bridge.drain(100);

    const call = h.sim.placeCall({
      to: SUPPORT_NUMBER,
      from: CALLER,
      maxDurationMs: 15_000,
      voiceUrl: `http://127.0.0.1:${(other.address() as AddressInfo).port}/voice`,
    });
    const result = await call.done;
    const busy = h.config.file.bridge.busy_message;
    expect(result.timeline.map((e) => e.what)).toContain(`say "${busy}"`);
    expect(result.streams).toHaveLength(1);
    expect(result.streams[0]!.endedBy).toBe('stop'); // ended by the REST update, not a bare close
    expect(result.endedBy).toBe('bridge-hangup');
    expect(await refused(h, 'draining')).toBe(1);
    expect(await metricValue(h.bridge, 'bridge_calls_total', { outcome: 'refused_draining' })).toBe(1);
    expect(h.engine.sessions).toHaveLength(0);
  });
});
