/**
 * WebSocket control frames pay from the same per-stream budget as messages.
 * The probe: one socket sent 55,690 pings a second before `start` (62 % of a core, throttled
 * counter 0), because ws answered each one before the bridge's budget saw it. Here a flood of
 * raw ping frames, written at once, goes to a media socket before and after `start`, on both
 * receive paths (the fast path, which hands control frames to ws, and ws alone with
 * `shared_read_buffer: false`), while a bystander call runs; the flooder is closed and counted,
 * and the bystander keeps hearing its agent. Waits are hang detectors, not timings.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { janitor, sleep, startBridgeStack, type BridgeStack } from '../helpers/bridge-stack.js';
import { waitFor } from '../helpers/harness.js';
import { metricValue } from '../helpers/metrics.js';
import { RawStream, sid } from '../helpers/raw-twilio.js';

const j = janitor();
afterEach(() => j.closeAll());

/** `n` masked client ping frames with empty payloads (zero mask key), in one buffer. */
function pings(n: number): Buffer {
  const one = Buffer.from([0x89, 0x80, 0, 0, 0, 0]);
  return Buffer.concat(Array.from({ length: n }, () => one));
}

/**
 * The probe's move: ~50,000 pings a second (500 every 10 ms) on the raw TCP socket under the ws
 * client, for `ms` or until the socket closes.
 */
function pingFlood(raw: RawStream, ms: number): { close(): void } {
  const tcp = (raw.ws as unknown as { _socket: Socket })._socket;
  const burst = pings(500);
  const until = Date.now() + ms;
  const t = setInterval(() => {
    if (Date.now() > until || tcp.destroyed || !raw.isOpen) return clearInterval(t);
    if (tcp.writableLength < 1 << 20) tcp.write(burst);
  }, 10);
  return { close: () => clearInterval(t) };
}

/** The bystander's agent talks for longer than any test here. */
const TALKER = { greeting: 'Thank you for calling, please hold on. '.repeat(40) };

async function bystander(h: BridgeStack): Promise<RawStream> {
  const raw = j.track(await RawStream.open(h.target));
  raw.start(sid('CA'), { agent: 'support' });
  await waitFor(() => raw.audio().length > 4000, 10_000);
  return raw;
}

/** The bystander still gets its agent's audio after the flood (its stream was not touched). */
async function stillHears(raw: RawStream): Promise<void> {
  const n = raw.received.length;
  await waitFor(() => raw.received.length > n + 10, 10_000);
  expect(raw.isOpen).toBe(true);
}

const closedWithin = (raw: RawStream, ms: number) => Promise.race([raw.closed, sleep(ms).then(() => 'open' as const)]);
const pongsTo = (raw: RawStream) => {
  let n = 0;
  raw.ws.on('pong', () => n++);
  return () => n;
};

describe.each([
  ['the fast receive path', true],
  ['ws alone (shared_read_buffer: false)', false],
])('ping floods, on %s', (_name, shared) => {
  it('a socket that pings before start is closed with 1008, counted, gets no pongs, and a live call is not affected', async () => {
    // start_timeout is far away: only the ping defence can close the flooder inside the test.
    const h = j.track(
      await startBridgeStack({
        support: TALKER,
        bridge: { shared_read_buffer: shared, media_stream: { start_timeout_ms: 60_000 } },
      }),
    );
    const by = await bystander(h);
    const attacker = j.track(await RawStream.open(h.target));
    const pongs = pongsTo(attacker);
    j.track(pingFlood(attacker, 8000));
    const closed = await closedWithin(attacker, 15_000);
    console.info(`ping flood before start (shared reads ${shared}): closed ${closed}, pongs ${pongs()}`);
    expect(closed).toBe(1008);
    expect(await metricValue(h.bridge, 'bridge_media_streams_refused_total', { reason: 'ping_before_start' })).toBe(1);
    expect(pongs()).toBe(0);
    await stillHears(by);
  }, 40_000);

  it('pings after start pay from the stream budget: the flooder is throttled, then closed for its rate', async () => {
    const h = j.track(
      await startBridgeStack({
        support: TALKER,
        bridge: { shared_read_buffer: shared, media_stream: { close_after_throttled_ms: 1500 } },
      }),
    );
    const by = await bystander(h);
    const attacker = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    attacker.start(callSid, { agent: 'sales' });
    await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true);
    const pongs = pongsTo(attacker);
    j.track(pingFlood(attacker, 15_000));
    const closed = await closedWithin(attacker, 20_000);
    console.info(`ping flood after start (shared reads ${shared}): closed ${closed}, pongs ${pongs()}`);
    expect(closed).toBe(1008);
    expect(await metricValue(h.bridge, 'bridge_media_streams_refused_total', { reason: 'rate_exceeded' })).toBe(1);
    expect(await metricValue(h.bridge, 'bridge_media_streams_throttled_total')).toBeGreaterThanOrEqual(1);
    // Within its budget a ping is still answered, beyond it never: at most the burst's worth.
    expect(pongs()).toBeLessThanOrEqual(600);
    await stillHears(by);
  }, 40_000);

  it('a few pings after start are answered, as RFC 6455 wants', async () => {
    const h = j.track(await startBridgeStack({ bridge: { shared_read_buffer: shared } }));
    const raw = j.track(await RawStream.open(h.target));
    const callSid = sid('CA');
    raw.start(callSid, { agent: 'support' });
    await waitFor(() => h.bridge.ctx.registry.get(callSid)?.hasStream === true);
    const pongs = pongsTo(raw);
    for (let i = 0; i < 3; i++) raw.ws.ping(Buffer.from(`p${i}`));
    await waitFor(() => pongs() === 3, 10_000);
    expect(raw.isOpen).toBe(true);
  }, 30_000);
});
